"""A family of linear rows held as one sparse matrix, as a Pyomo ``Constraint``.

A row built as a Pyomo expression costs about 3 microseconds (its
``LinearExpression``, its relation, its ``ConstraintData``) and 2.5 more to
read back: at 10,000 offers, a quarter of a second for rows that HiGHS solves
in less. ``Rows`` keeps a family's rows as CSR arrays over the model's
variables instead (the idea of Pyomo's ``MatrixConstraint``, which Pyomo 6.10's
own compiler and writers no longer accept) and makes each row an ordinary
constraint of the model:

* ``Rows`` is an indexed ``Constraint`` over the family's own keys, so
  ``model.tier_open[i, k]`` is the row of offer i's tier k, and
  ``component_data_objects(Constraint)`` lists every row; the row objects
  themselves are made the first time anything asks for one;
* a row's expression (``lower <= sum(coef * var) <= upper``) is made from the
  matrix the first time anything asks for it (``expr``, ``body``, ``lb``,
  ``to_bounded_expression``, ...), so Pyomo's compilers, writers and
  ``value`` see the same row as if it had been written by hand;
* ``solvers.build.linear_form`` reads an untouched family's matrix at once, without
  making any expression. A row changed (``set_value``) or switched off or on
  marks its family touched, and the family is then read row by row, as Pyomo
  would read it.

``Columns`` numbers the variables the matrices refer to. It also makes the
variables of a large ``Var`` (``make``: as Pyomo's dense construction would,
at about half its cost) and sums over them (``linear``: a ``LinearExpression``
that the reader takes from its arrays, as it takes a family's rows, and whose
terms are made only when something reads it term by term).
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from solvers.build.pyomo_door import (
    VAR_UB,
    EqualityExpression,
    InequalityExpression,
    LazyConstraintData,
    LazyConstraintFamily,
    LazyLinearExpression,
    LazyVar,
    LinearExpression,
    MonomialTermExpression,
    RangedExpression,
    VarData,
    component_data,
    copy_variables,
    mark_dense,
    setof_sequence,
    var_declaration,
)


class ColumnVar(LazyVar):
    """An indexed ``Var`` whose variables ``Columns.make`` makes, the first time anything asks for one.

    Until then the component holds what they would be (``pending``): its keys, the first
    variable's state, which Pyomo made from the declared domain, bounds and value, and
    each variable's upper bound. ``solvers.build.linear_form`` and ``solvers.solve.highs`` read a
    pending component from that, without making 40,000 variables at 10,000 offers. Pyomo
    reaches the variables only through its data dict (indexing, ``len``, ``values()``, ...),
    which makes them all first (``LazyVar``), as Pyomo's dense construction would have made them.
    """

    pending: Pending | None = None
    made: list[VarData] | None = None  # the variables as made, in key order (positions in Columns)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("dense", False)
        super().__init__(*args, **kwargs)

    def make_pending(self) -> None:
        """Make the pending variables: copies of the first, each with its own index and upper bound."""
        pending = self.pending
        upper = pending.upper
        if upper is None:
            upper = itertools.repeat(VAR_UB(pending.first))  # the first's upper bound as given
        upper = upper.tolist() if isinstance(upper, np.ndarray) else upper
        made = copy_variables(pending.first, pending.keys, upper)
        self.made_data.update(zip(pending.keys, made))  # the first's place too
        self.made = made
        self.pending = None  # only now: a MemoryError above leaves them pending, not lost


@dataclass(slots=True)
class Pending:
    """What a ``ColumnVar``'s variables will be (see ``Columns.make``)."""

    keys: Sequence
    first: VarData  # the first variable as Pyomo made it, from the declared domain, bounds and value
    upper: list | np.ndarray | None  # each variable's upper bound (an array: floats), or None: the first's for all


class Columns:
    """Every variable the rows may use, by position: each ``Var`` component's variables in index order.

    Positions are given out by ``add`` and ``make`` and never change, so a family built
    early stays valid when a later one adds a component.
    """

    def __init__(self) -> None:
        self.starts: list[int] = []  # position of each component's first variable
        self.sizes: list[int] = []  # its number of variables
        self.components: list[pyo.Var] = []
        self.size = 0  # variables numbered
        # each component's variables as numbered, or None for a ColumnVar whose are pending
        self._lists: list[list[VarData] | None] = []
        self._vars: list[VarData] | None = []  # every variable by position, once asked for
        # id(expression) -> (the expression, its variables' positions, its coefficients): see ``linear``
        self.sums: dict[int, tuple[LinearExpression, np.ndarray, np.ndarray]] = {}

    @property
    def vars(self) -> list[VarData]:
        """Every variable by position; a ``ColumnVar``'s are made now if still pending."""
        if self._vars is None:
            self._vars = [var for c in range(len(self.components)) for var in self.variables(c)]
        return self._vars

    def variables(self, c: int) -> list[VarData]:
        """The variables of the c-th component numbered, in position order (made now if pending)."""
        listed = self._lists[c]
        if listed is None:
            component = self.components[c]
            component_data(component)  # asking for them makes them, if not yet: as numbered, whatever deleted since
            listed = self._lists[c] = component.made
        return listed

    def pending(self, c: int) -> Pending | None:
        """What the c-th component's variables will be, while they are not made yet."""
        return self.components[c].pending if self._lists[c] is None else None

    def add(self, component: pyo.Var) -> int:
        """Number ``component``'s variables (in index order, as Pyomo lists them); return the first position."""
        return self._number(component, list(component.values()))

    def make(self, component: ColumnVar, upper: Sequence[float] | np.ndarray | None = None) -> int:
        """Number the variables of ``component``, to be made when first asked for; return the first position.

        The variables are those Pyomo's dense construction makes, in index order, with
        ``upper[r]`` as the upper bound of the r-th when given: Pyomo makes the first
        from the component's domain and bounds, and the others are copies of it
        (``ColumnVar``), made at about half the cost of Pyomo's copies, and only when
        something asks for them: reading the model's matrices and bounds needs none.
        """
        if not isinstance(component, ColumnVar):
            raise TypeError(f"{component.name}: declare it as a ColumnVar, whose variables make makes")
        if component.pending is not None or component.made is not None:
            raise ValueError(f"{component.name}: its variables are made already")
        dense, has_data, constant_rules = var_declaration(component)
        if dense or has_data:
            raise ValueError(f"{component.name}: declare the Var with dense=False, and make its variables here only")
        if not constant_rules:
            # Pyomo would call such a rule for each index; the copies here would all take the first's.
            raise ValueError(f"{component.name}: make takes one domain, bounds and value for all (upper bounds apart)")
        index = component.index_set()
        # a SetOf's own sequence of keys when it cannot change (listing a lazy one, build.TierKeys, would
        # make every key); a copy of a list, which its owner could change after the variables are numbered
        ref = setof_sequence(index)
        keys = ref if isinstance(ref, Sequence) and not isinstance(ref, MutableSequence) else list(index)
        if upper is not None and len(upper) != len(keys):
            raise ValueError(f"{component.name}: {len(upper)} upper bounds for {len(keys)} variables")
        mark_dense(component)  # every variable exists, as if constructed dense (made when asked for)
        if not keys:
            return self._number(component, [])
        first = component[keys[0]]  # made by Pyomo, from the declared domain and bounds
        del component.made_data[keys[0]]  # made again, with the others
        if upper is not None:  # a copy: an array of floats stays one, which compiling reads at once
            upper = upper.copy() if isinstance(upper, np.ndarray) and upper.dtype == np.float64 else list(upper)
        component.pending = Pending(keys, first, upper)
        return self._number(component, None, len(keys))

    def linear(self, positions: np.ndarray, coefs: np.ndarray) -> LinearExpression:
        """sum(coef x variable at position) as a Pyomo expression, zero coefficients left out.

        The expression is remembered with its arrays, so that ``solvers.build.linear_form``
        reads an objective that is this very expression from them rather than term by
        term. A Pyomo expression never changes once made (adding to it makes another),
        so the arrays stay true to it.
        """
        nonzero = coefs != 0
        positions, coefs = positions[nonzero], coefs[nonzero]
        if len(positions) and (positions.min() < 0 or positions.max() >= self.size):
            raise ValueError(f"a sum refers to a variable that Columns has not numbered: {positions.min()}..")
        expr = LazyLinear.__new__(LazyLinear)
        # the Columns by weak reference: it keeps the expression in ``sums``, and a cycle
        # would leave the whole model to the cycle collector
        expr._lazy = (positions, coefs, weakref.ref(self))
        self.sums[id(expr)] = (expr, positions, coefs)
        return expr

    def _number(self, component: pyo.Var, variables: list[VarData] | None, size: int | None = None) -> int:
        start = self.size
        size = len(variables) if variables is not None else size
        self.starts.append(start)
        self.sizes.append(size)
        self.components.append(component)
        self._lists.append(variables)
        self.size += size
        if variables is None or self._vars is None:
            self._vars = None  # made again when asked for
        else:
            self._vars.extend(variables)
        return start

    def numbered(self) -> dict[int, int]:
        """id(component) -> its place among the components numbered, for every component."""
        return {id(component): c for c, component in enumerate(self.components)}


class LazyLinear(LazyLinearExpression):
    """A ``LinearExpression`` whose terms are made from arrays the first time anything asks for them.

    Reading it from its arrays (``Columns.linear``, ``solvers.build.linear_form``) needs no
    terms: at 10,000 offers the spend objective's 28,000 took 5 ms to make. Every reader
    sees an ordinary ``LinearExpression`` (``LazyLinearExpression``); it is pickled as one
    (a weak reference cannot be pickled).
    """

    __slots__ = ("_lazy",)

    def make_terms(self) -> list:
        positions, coefs, columns = self._lazy  # (positions, coefficients, their Columns)
        if columns() is None:
            raise ReferenceError("the model this sum was made in is gone, and its variables with it")
        variables = columns().vars
        return [
            MonomialTermExpression((c, variables[p])) for p, c in zip(positions.tolist(), coefs.tolist(), strict=True)
        ]


@dataclass(slots=True)
class RowMatrix:
    """A family's rows as CSR arrays over ``Columns`` positions, with each row's bounds (+-inf for none)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def entries_to_rows(count: int, groups: Sequence[tuple[Any, Any, Any]], lower: Any, upper: Any) -> RowMatrix:
    """``count`` rows from groups of entries (row of each, position of each, coefficient of each or one for all).

    Within a row, entries keep the order of their groups, then their order in the group.
    ``lower`` and ``upper`` are one bound for every row or one per row.
    """
    if count == 0:
        empty = np.zeros(0)
        return RowMatrix(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), empty, empty, empty)
    rows = np.concatenate([np.asarray(r, dtype=np.int64) for r, _, _ in groups])
    order = np.argsort(rows, kind="stable")
    positions = np.concatenate([np.asarray(p, dtype=np.int64) for _, p, _ in groups])
    coefs = np.concatenate([_each(c, len(r)) for r, _, c in groups])
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=count), out=indptr[1:])
    return RowMatrix(indptr, positions[order], coefs[order], _each(lower, count), _each(upper, count))


def _each(value: Any, count: int) -> np.ndarray:
    """``value`` as ``count`` floats: one for all, or one each."""
    if isinstance(value, int | float):
        return np.full(count, value, dtype=float)
    array = np.asarray(value, dtype=float)
    return np.full(count, array) if array.ndim == 0 else array.reshape(count)


class RowData(LazyConstraintData):
    """One row of a ``Rows`` family (``RowData(weakref to the family, key, row number)``).

    Its expression is made from the matrix when first asked for.
    """

    __slots__ = ()

    def make_expr(self):
        return self.parent_component().relation(self._row)

    def set_value(self, expr) -> None:
        self.parent_component().touched = True
        super().set_value(expr)

    def activate(self) -> None:
        self.parent_component().touched = True
        super().activate()

    def deactivate(self) -> None:
        self.parent_component().touched = True
        super().deactivate()


class Rows(LazyConstraintFamily, data_class=RowData):
    """A constraint family over ``keys``: row r of ``matrix`` is the row of ``keys[r]``."""

    def __init__(self, keys: list, matrix: RowMatrix, columns: Columns, **kwargs: Any) -> None:
        assert len(keys) == len(matrix.lower) == len(matrix.indptr) - 1
        super().__init__(pyo.SetOf(keys), **kwargs)
        self.keys_in_order = keys
        self.columns = columns
        if len(matrix.indices) and (matrix.indices.min() < 0 or matrix.indices.max() >= columns.size):
            raise ValueError(f"a row refers to a variable that Columns has not numbered: {matrix.indices.min()}..")
        self.indptr, self.indices, self.data = matrix.indptr, matrix.indices, matrix.data
        self.lower, self.upper = matrix.lower, matrix.upper
        for array in (self.indptr, self.indices, self.data, self.lower, self.upper):
            array.flags.writeable = False  # the rows as built; change a row with set_value
        # False while every row is as built and active: solvers.build.linear_form may read the arrays
        self.touched = False

    def make_rows(self) -> dict:
        """The rows by key, made the first time anything asks for them (``LazyConstraintFamily``).

        Reading the family (``solvers.build.linear_form``) needs none of them: at 10,000 offers,
        36,000 rows that took 7 ms to make, and as long again to free.
        """
        family = weakref.ref(self)
        return {key: RowData(family, key, row) for row, key in enumerate(self.keys_in_order)}

    def relation(self, row: int):
        """Row ``row`` as the Pyomo relation it stands for."""
        start, end = self.indptr[row], self.indptr[row + 1]
        variables = self.columns.vars
        body = LinearExpression(
            [
                MonomialTermExpression((coef, variables[position]))
                for position, coef in zip(self.indices[start:end].tolist(), self.data[start:end].tolist())
            ]
        )
        lower, upper = float(self.lower[row]), float(self.upper[row])
        if lower == upper:
            return EqualityExpression((body, upper))
        if lower == -np.inf:
            return InequalityExpression((body, upper), False)
        if upper == np.inf:
            return InequalityExpression((lower, body), False)
        return RangedExpression((lower, body, upper), (False, False))

    def __delitem__(self, index: Any) -> None:
        raise TypeError(f"{self.name} holds the rows it was built with; deactivate a row instead")
