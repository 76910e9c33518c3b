"""Pyomo's linear standard form, read straight off models whose rows are matrices or ``LinearExpression``s.

``LinearStandardFormCompiler`` walks every constraint with a general expression
visitor: at 500 offers that is 20 ms, more than the model takes to build. The
rows ``solvers.build.program`` makes are ``solvers.build.rows.Rows`` families, whose arrays
are read at once while no row of theirs has been changed, and a budget row and
objectives that are ``LinearExpression``s against a constant, read from the
arrays they were made from (``Columns.linear``) or else term by term.
``read_linear_form`` does that and returns the same data, entry for
entry, as ``LinearStandardFormCompiler().write(model, mixed_form=True,
set_sense=None)``:

* rows in the order of ``component_data_objects(Constraint, active=True)``,
  an equality as one row (kind 0), an inequality as a ``<=`` row (kind 1)
  and/or a ``>=`` row (kind -1), the expression's constant moved to the bound;
* within a row, coefficients of a repeated variable summed, zeros dropped;
* columns grouped by ``Var`` component, components in the order their first
  variable is met (objectives first, then rows), each component's variables in
  index order; columns without a nonzero entry removed.

Anything else (a fixed variable in a row, a nonlinear or general expression,
a ranged or strict inequality, a row with no nonzero coefficient, a
sub-block, an unusual component) returns None, and the caller uses Pyomo's
compiler (so does a family whose Var components gained or lost variables
since ``Columns`` numbered them, or whose rows were cleared).
``tests/solvers/test_linear_form.py`` and ``tests/solvers/test_rows.py`` compare both on many
models.

Reading makes no family's row objects and no ``Columns.linear`` sum's terms
(``solvers.build.rows`` makes them when first asked for), and, when every column is
used, no ``ColumnVar``'s variables: the columns then come back as a
``ColumnList``, whose variables are made only if it is iterated or indexed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp

from solvers.build.pyomo_door import (
    EXPR_ARGS,
    VAR_FIXED,
    EqualityExpression,
    ExpressionData,
    InequalityExpression,
    LinearExpression,
    MonomialTermExpression,
    VarData,
    component_data,
    holds_var_data,
    native_numeric_types,
)
from solvers.build.rows import Columns, Pending, Rows

# Components whose presence the fast reader understands (they add no rows of their own).
_PLAIN = {pyo.Var, pyo.Constraint, pyo.Objective, pyo.Expression, pyo.Set, pyo.RangeSet, pyo.Param}


_fixed = attrgetter("fixed")


class _NotPlain(Exception):
    """The model has something the fast reader does not handle: use Pyomo's compiler."""


@dataclass(slots=True)
class LinearForm:
    """The fields of Pyomo's ``LinearStandardFormInfo`` that ``compile_model`` reads."""

    c: Any  # scipy.sparse.csc_array, one row per active objective
    c_offset: np.ndarray
    A: Any  # scipy.sparse.csc_array
    rhs: np.ndarray
    # where the rows came from, in order: a constraint read on its own, or families read as one block
    sources: list[Any]
    kinds: np.ndarray  # of every row: 0 equality, 1 <=, -1 >=
    columns: Sequence[VarData]  # a ColumnList when every column is used, else a list
    objectives: list[Any]
    unused: list[VarData]  # variables in no row or objective (not columns)
    # the one ``Columns`` the model's Rows families number their variables in (None: none, or several),
    # and each column's position in it (-1: a variable it did not number)
    numbering: Columns | None
    positions: np.ndarray | None

    @property
    def constraints(self) -> list[Any]:
        """The constraint of every row (Pyomo's ``rows``, without the kinds); a family's rows made if not yet."""
        out: list[Any] = []
        for source in self.sources:
            if isinstance(source, list):  # Rows families: their rows in key order
                out.extend(chain.from_iterable(component_data(family).values() for family in source))
            else:
                out.append(source)
        return out


# ``STOCKPILE_PYOMO_FAST_PATH=0`` sends every model through Pyomo's own ``LinearStandardFormCompiler``
# instead of this reader: CI runs the engine's tests that way too, so that the two cannot drift apart.
FAST_PATH = os.environ.get("STOCKPILE_PYOMO_FAST_PATH", "1") != "0"


def read_linear_form(model: pyo.ConcreteModel) -> LinearForm | None:
    """The standard form of ``model``, or None when it needs Pyomo's general compiler."""
    if not FAST_PATH:
        return None
    try:
        return _Reader(model).read()
    except _NotPlain:
        return None


class _Reader:
    def __init__(self, model: pyo.ConcreteModel) -> None:
        self.model = model
        # id(VarData) -> column before unused ones are removed, filled for a component only when
        # an expression read term by term needs it (``_column``): rows read from matrices never do
        self.column_of: dict[int, int] = {}
        self.size = 0  # columns given so far
        self.blocks: list[_Block] = []  # the variables of every component given columns, in column order
        self.block_of: dict[int, _Block] = {}  # id(Var component) -> its block
        self.span: dict[int, tuple[int, int]] = {}  # id(Var component) -> (its first column, its size)
        self.indexed: set[int] = set()  # id of every component whose variables are in column_of
        # id(Var component) -> (its Columns, its place there), from the Columns of Rows families
        self.numbered: dict[int, tuple[Columns, int]] = {}
        self.positions: list[np.ndarray] = []  # of the columns, component by component
        # id(expression) -> (expression, positions, coefficients, Columns), from ``Columns.linear``
        self.sums: dict[int, tuple[LinearExpression, np.ndarray, np.ndarray, Columns]] = {}

    def read(self) -> LinearForm:
        model = self.model
        registries: dict[int, Columns] = {}
        for component in model.component_objects(descend_into=True):
            if component.ctype not in _PLAIN:
                raise _NotPlain
            if isinstance(component, Rows) and id(component.columns) not in registries:
                columns = registries[id(component.columns)] = component.columns
                self.numbered.update((key, (columns, c)) for key, c in columns.numbered().items())
                self.sums.update((key, (*entry, columns)) for key, entry in columns.sums.items())
        objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=False))
        objective_rows, offsets = _RowPieces(), []  # one row of c per objective
        for objective in objectives:
            expr = _linear_of(objective.expr)
            known = self._known_sum(expr)
            if known is None:
                offsets.append(self._append(expr, objective_rows.index, objective_rows.data))
                objective_rows.add_row(objective, 0, 0.0)
                continue
            # made by ``Columns.linear``: its arrays as they are, not a Python list of each term
            positions, coefs, columns = known
            at = self._columns_at(positions, columns)
            objective_rows.add_block(coefs, at, np.array([len(at)]), [objective], np.zeros(1, np.int8), np.zeros(1))
            offsets.append(0)
        rows = _RowPieces()
        # In the order of component_data_objects(Constraint, active=True): components in
        # declaration order, each one's active rows in index order.
        batch: list[Rows] = []  # untouched families in a row over one Columns, read together
        for component in model.component_objects(pyo.Constraint, active=True, descend_into=False):
            if isinstance(component, Rows) and not component.touched:
                if batch and component.columns is not batch[0].columns:
                    self._read_families(batch, rows)
                    batch = []
                batch.append(component)
                continue
            if batch:
                self._read_families(batch, rows)
                batch = []
            for con in component.values():
                if not con.active:
                    continue
                lb, body, ub = _bounded(con)
                constant = self._append(body, rows.index, rows.data)
                # _bounded gives one finite side, or the same value on both (an equality)
                kind = 0 if lb == ub else 1 if ub is not None else -1
                rows.add_row(con, kind, (ub if ub is not None else lb) - constant)
        if batch:
            self._read_families(batch, rows)
        n = self.size
        c = _csc(*objective_rows.arrays(), n)
        A = _csc(*rows.arrays(), n)
        if A.shape[0] and not np.bincount(A.indices, minlength=A.shape[0]).all():
            raise _NotPlain  # a constant row: Pyomo drops it or reports it infeasible
        used = (np.diff(A.indptr) > 0) | (np.diff(c.indptr) > 0)
        keep = np.concatenate((used, [True]))
        if used.all():  # as a rule: every variable is in some row or objective
            columns, unused = ColumnList(self.blocks, n), []
        else:
            variables = np.empty(n, dtype=object)
            variables[:] = ColumnList(self.blocks, n)
            columns = variables[used].tolist()
            unused = variables[~used].tolist()
        for component in model.component_objects(pyo.Var, descend_into=False):
            if id(component) not in self.span:  # a Var in no row or objective at all
                unused.extend(v for v in component.values() if not v.fixed)
        c = sp.csc_array((c.data, c.indices, c.indptr[keep]), shape=(c.shape[0], len(columns)))
        A = sp.csc_array((A.data, A.indices, A.indptr[keep]), shape=(A.shape[0], len(columns)))
        numbering = positions = None
        if len(registries) == 1:
            (numbering,) = registries.values()
            positions = np.concatenate([np.zeros(0, dtype=np.int64), *self.positions])[used]
        return LinearForm(
            c,
            np.array(offsets),
            A,
            rows.rhs_array(),
            rows.sources,
            rows.kind_array(),
            columns,
            objectives,
            unused,
            numbering,
            positions,
        )

    def _read_families(self, families: list[Rows], rows: _RowPieces) -> None:
        """Append ``Rows`` families over one ``Columns`` as they stand in their arrays, every row at once."""
        families = [f for f in families if len(f.lower)]
        if not families:
            return
        if any(f.rows_made and len(component_data(f)) != len(f.lower) for f in families):
            raise _NotPlain  # rows removed (clear()): the arrays no longer say which rows there are
        lower = np.concatenate([f.lower for f in families])
        upper = np.concatenate([f.upper for f in families])
        equal = lower == upper
        at_most = ~equal & (lower == -np.inf) & (upper < np.inf)
        at_least = ~equal & (upper == np.inf) & (lower > -np.inf)
        if not (equal | at_most | at_least).all():
            raise _NotPlain  # a ranged row, or one with no bound: Pyomo's compiler decides
        positions = np.concatenate([f.indices for f in families])
        kinds = np.where(equal, 0, np.where(at_most, 1, -1)).astype(np.int8)
        rows.add_block(
            np.concatenate([f.data for f in families]),
            self._columns_at(positions, families[0].columns),
            np.concatenate([np.diff(f.indptr) for f in families]),
            families,
            kinds,
            np.where(at_least, lower, upper),
        )

    def _columns_at(self, positions: np.ndarray, columns: Columns) -> np.ndarray:
        """The reader's column of each of ``columns``' positions; components met first numbered first."""
        starts = np.asarray(columns.starts, dtype=np.int64)
        # the Var component of every entry, looked up by position: a tenth of the time of
        # searchsorted's binary search per entry (there are several entries per column)
        component_at = np.repeat(np.arange(len(starts)), columns.sizes)
        owner = component_at[positions]
        shift = np.zeros(len(starts), dtype=np.int64)  # reader column - position, per component
        first = np.full(len(starts), len(owner))  # where each component is first met (len: never)
        for c in range(len(starts)):  # a handful of components: one pass over owner each
            here = owner == c
            if here.any():
                first[c] = here.argmax()
        for c in np.argsort(first, kind="stable")[: int((first < len(owner)).sum())].tolist():  # in the order met
            component = columns.components[c]
            span = self.span.get(id(component))
            shift[c] = (span[0] if span is not None else self._add_component(component)) - starts[c]
        return positions + shift[owner]

    def _append(self, expr: LinearExpression, index: list[int], data: list[float]) -> float:
        """Append expr's (column, coefficient) terms to ``index`` and ``data``; return its constant.

        A repeated variable's terms are left for ``_csc`` to sum and zeros for it to drop.
        An expression made by ``Columns.linear`` is read from its arrays, at once.
        """
        known = self._known_sum(expr)
        if known is not None:
            positions, coefs, columns = known
            index.extend(self._columns_at(positions, columns).tolist())
            data.extend(coefs.tolist())
            return 0
        constant = 0
        column_of = self.column_of
        add_index, add_data, args_of = index.append, data.append, EXPR_ARGS
        for arg in expr.args:
            cls = arg.__class__
            if cls is MonomialTermExpression:
                coef, var = args_of(arg)  # the two children; `.args` slices a copy (Pyomo reads them so too)
                if coef.__class__ not in native_numeric_types:
                    raise _NotPlain
            elif cls is VarData or (cls not in native_numeric_types and isinstance(arg, VarData)):
                coef, var = 1, arg
            elif cls in native_numeric_types:
                constant += arg
                continue
            else:
                raise _NotPlain
            column = column_of.get(id(var))
            if column is None:
                column = self._column(var)
            add_index(column)
            add_data(coef)
        return constant

    def _known_sum(self, expr: Any) -> tuple[np.ndarray, np.ndarray, Columns] | None:
        """(positions, coefficients, Columns) of an expression ``Columns.linear`` made, else None."""
        known = self.sums.get(id(expr))
        return known[1:] if known is not None and known[0] is expr else None

    def _column(self, var: Any) -> int:
        """The column of ``var``, which ``column_of`` lacks: its component's columns given or indexed now."""
        if not isinstance(var, VarData):
            raise _NotPlain
        component = var.parent_component()
        span = self.span.get(id(component))
        if span is None:
            self._add_component(component)
            span = self.span[id(component)]
        if id(component) not in self.indexed:
            self.indexed.add(id(component))
            start, size = span
            values = self.block_of[id(component)].variables()
            self.column_of.update(zip(map(id, values), range(start, start + size)))
        column = self.column_of.get(id(var))
        if column is None:
            raise _NotPlain  # not among its own component's variables
        return column

    def _add_component(self, component: Any) -> int:
        """Give every variable of ``component`` a column, in index order (as Pyomo does); return the first.

        The variables as a family's Columns numbered them (``component.values()`` when it
        was numbered), or as Pyomo lists them; a ``ColumnVar``'s still pending are not made.
        """
        numbered = self.numbered.get(id(component))
        if numbered is not None:
            columns, c = numbered
            first, size = columns.starts[c], columns.sizes[c]
            # Pending variables cannot have been fixed, added or deleted: doing any of it makes them.
            values = None if columns.pending(c) is not None else columns.variables(c)
            if values is not None and not len(values) == size == len(component):
                raise _NotPlain  # variables added or deleted since they were numbered: positions are stale
            block = _Block(columns, c, None)
        else:
            values = list(component.values())
            first, size = -1, len(values)
            block = _Block(None, -1, values)
        # ``fixed`` read from the slot it returns, when the variables are Pyomo's own VarData
        if values is not None and any(map(VAR_FIXED if holds_var_data(component) else _fixed, values)):
            raise _NotPlain
        start = self.size
        self.span[id(component)] = (start, size)
        self.positions.append(first + np.arange(size) if first >= 0 else np.full(size, -1))
        self.blocks.append(block)
        self.block_of[id(component)] = block
        self.size += size
        return start


@dataclass(slots=True)
class _Block:
    """The variables of one component given columns: a family's Columns' c-th, or a list."""

    columns: Columns | None
    c: int
    listed: list[VarData] | None

    def variables(self) -> list[VarData]:
        return self.listed if self.columns is None else self.columns.variables(self.c)

    def pending(self) -> Pending | None:
        return None if self.columns is None else self.columns.pending(self.c)


class ColumnList(Sequence):
    """A model's columns (``LinearForm.columns``): their variables, component by component.

    A pending ``ColumnVar``'s variables are made only when the list is indexed or
    iterated; ``solvers.solve.highs.column_bounds`` reads their bounds from its ``blocks`` instead.
    """

    def __init__(self, blocks: list[_Block], size: int) -> None:
        self.blocks = blocks
        self._size = size
        self._flat: list[VarData] | None = None

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i):
        return self._all()[i]

    def __iter__(self):
        return iter(self._all())

    def _all(self) -> list[VarData]:
        if self._flat is None:
            self._flat = list(chain.from_iterable(block.variables() for block in self.blocks))
        return self._flat


def _linear_of(expr: Any) -> LinearExpression:
    """The LinearExpression inside an objective's expression (through named Expressions)."""
    while isinstance(expr, ExpressionData):
        expr = expr.expr
    if expr.__class__ is not LinearExpression:
        raise _NotPlain
    return expr


def _bounded(con: Any) -> tuple[float | None, LinearExpression, float | None]:
    """(lb, body, ub) of a ``LinearExpression`` compared with a constant, as ``to_bounded_expression`` gives it."""
    expr = con.expr
    cls = expr.__class__
    if cls is not EqualityExpression and not (cls is InequalityExpression and not expr.strict):
        raise _NotPlain
    lhs, rhs = EXPR_ARGS(expr)  # a relation's two sides; `.args` slices a copy
    if rhs.__class__ in native_numeric_types and lhs.__class__ is LinearExpression:
        return (rhs if cls is EqualityExpression else None), lhs, rhs
    if lhs.__class__ in native_numeric_types and rhs.__class__ is LinearExpression:
        return lhs, rhs, (lhs if cls is EqualityExpression else None)
    raise _NotPlain


class _RowPieces:
    """The rows read so far, in order: runs of single rows (kept in lists) and whole families (arrays)."""

    def __init__(self) -> None:
        self.data: list[float] = []  # entries of the current run of single rows
        self.index: list[int] = []
        self.sources: list[Any] = []  # see LinearForm.sources
        self._lengths: list[int] = []  # entries of each row of the current run
        self._kinds: list[int] = []
        self._rhs: list[float] = []
        self._mark = 0
        self._pieces: list[tuple[np.ndarray, ...]] = []  # (data, index, lengths, kinds, rhs)

    def add_row(self, con: Any, kind: int, rhs: float) -> None:
        """A row whose entries were just appended to ``data`` and ``index``."""
        self._lengths.append(len(self.data) - self._mark)
        self._mark = len(self.data)
        self.sources.append(con)
        self._kinds.append(kind)
        self._rhs.append(rhs)

    def add_block(self, data, index, lengths, families: list[Rows], kinds, rhs) -> None:
        self._flush()
        self._pieces.append((data, index, lengths, kinds, rhs))
        self.sources.append(families)

    def _flush(self) -> None:
        if self._lengths:
            self._pieces.append(
                (
                    np.array(self.data, dtype=np.float64),
                    np.array(self.index, dtype=np.int64),
                    np.array(self._lengths, dtype=np.int64),
                    np.array(self._kinds, dtype=np.int8),
                    np.array(self._rhs, dtype=np.float64),
                )
            )
        self.data, self.index, self._lengths, self._kinds, self._rhs, self._mark = [], [], [], [], [], 0

    def _joined(self, field: int, dtype: type) -> np.ndarray:
        self._flush()
        return np.concatenate([piece[field] for piece in self._pieces]) if self._pieces else np.zeros(0, dtype)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(data, index, ptr) of every row, row-wise."""
        ptr = np.concatenate(([0], np.cumsum(self._joined(2, np.int64))))
        return self._joined(0, np.float64), self._joined(1, np.int64), ptr

    def kind_array(self) -> np.ndarray:
        return self._joined(3, np.int8)

    def rhs_array(self) -> np.ndarray:
        return self._joined(4, np.float64)


def _csc(data, index, ptr, n_cols: int) -> Any:
    """Row-wise entries (lists or arrays) to a canonical CSC array, by the same steps as Pyomo's compiler."""
    nnz = len(data)
    matrix = sp.csr_array(
        (
            np.asarray(data, dtype=np.float64),
            np.asarray(index, dtype=np.int32),
            np.asarray(ptr, dtype=np.int32),
        ),
        [len(ptr) - 1, n_cols],
    ).tocsc()
    if nnz:
        matrix.sum_duplicates()
        if not matrix.data.all():  # a pass to look for zeros, not scipy's pass that copies the entries
            matrix.eliminate_zeros()
    return matrix
