"""Pyomo's linear standard form, read straight off models whose rows are ``LinearExpression``s.

``LinearStandardFormCompiler`` walks every constraint with a general expression
visitor: at 500 offers that is 20 ms, more than the model takes to build. The
rows ``solvers.build`` makes are all ``LinearExpression`` against a constant,
so they can be read directly. ``read_linear_form`` does that and returns the
same data, entry for entry, as ``LinearStandardFormCompiler().write(model,
mixed_form=True, set_sense=None)``:

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
compiler (diagnose's elastic model, for one, when a row it rewrites is no
longer a ``LinearExpression``). ``tests/test_linear_form.py`` compares both on
many models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.numeric_types import native_numeric_types
from pyomo.core.base.expression import ExpressionData
from pyomo.core.base.var import VarData
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
from pyomo.core.expr.relational_expr import EqualityExpression, InequalityExpression

# Components whose presence the fast reader understands (they add no rows of their own).
_PLAIN = {pyo.Var, pyo.Constraint, pyo.Objective, pyo.Expression, pyo.Set, pyo.RangeSet, pyo.Param}


class _NotPlain(Exception):
    """The model has something the fast reader does not handle: use Pyomo's compiler."""


@dataclass(slots=True)
class LinearForm:
    """The fields of Pyomo's ``LinearStandardFormInfo`` that ``compile_model`` reads."""

    c: Any  # scipy.sparse.csc_array, one row per active objective
    c_offset: np.ndarray
    A: Any  # scipy.sparse.csc_array
    rhs: np.ndarray
    rows: list[tuple[Any, int]]  # (constraint, kind): 0 equality, 1 <=, -1 >=
    columns: list[VarData]
    objectives: list[Any]
    unused: list[VarData]  # variables in no row or objective (not columns)


def read_linear_form(model: pyo.ConcreteModel) -> LinearForm | None:
    """The standard form of ``model``, or None when it needs Pyomo's general compiler."""
    try:
        return _Reader(model).read()
    except _NotPlain:
        return None


class _Reader:
    def __init__(self, model: pyo.ConcreteModel) -> None:
        self.model = model
        self.column_of: dict[int, int] = {}  # id(VarData) -> column before unused ones are removed
        self.variables: list[VarData] = []
        self.seen: set[int] = set()  # id of every Var component met

    def read(self) -> LinearForm:
        model = self.model
        for component in model.component_objects(descend_into=True):
            if component.ctype not in _PLAIN:
                raise _NotPlain
        objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=False))
        c_data, c_index, c_ptr, offsets = [], [], [0], []
        for objective in objectives:
            offsets.append(self._append(_linear_of(objective.expr), c_index, c_data))
            c_ptr.append(len(c_data))
        a_data, a_index, a_ptr, rhs, rows = [], [], [0], [], []
        for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=False):
            lb, body, ub = _bounded(con)
            constant = self._append(body, a_index, a_data)
            # _bounded gives one finite side, or the same value on both (an equality)
            rows.append((con, 0 if lb == ub else 1 if ub is not None else -1))
            rhs.append((ub if ub is not None else lb) - constant)
            a_ptr.append(len(a_data))
        n = len(self.variables)
        c = _csc(c_data, c_index, c_ptr, n)
        A = _csc(a_data, a_index, a_ptr, n)
        if A.shape[0] and not np.bincount(A.indices, minlength=A.shape[0]).all():
            raise _NotPlain  # a constant row: Pyomo drops it or reports it infeasible
        used = (np.diff(A.indptr) > 0) | (np.diff(c.indptr) > 0)
        keep = np.concatenate((used, [True]))
        columns = [v for v, u in zip(self.variables, used) if u]
        unused = [v for v, u in zip(self.variables, used) if not u]
        for component in model.component_objects(pyo.Var, descend_into=False):
            if id(component) not in self.seen:  # a Var in no row or objective at all
                unused.extend(v for v in component.values() if not v.fixed)
        c = sp.csc_array((c.data, c.indices, c.indptr[keep]), shape=(c.shape[0], len(columns)))
        A = sp.csc_array((A.data, A.indices, A.indptr[keep]), shape=(A.shape[0], len(columns)))
        return LinearForm(c, np.array(offsets), A, np.array(rhs), rows, columns, objectives, unused)

    def _append(self, expr: LinearExpression, index: list[int], data: list[float]) -> float:
        """Append expr's (column, coefficient) terms to ``index`` and ``data``; return its constant.

        A repeated variable's terms are left for ``_csc`` to sum and zeros for it to drop.
        """
        constant = 0
        column_of = self.column_of
        add_index, add_data = index.append, data.append
        for arg in expr.args:
            cls = arg.__class__
            if cls is MonomialTermExpression:
                coef, var = arg._args_  # the two children; `.args` slices a copy (Pyomo reads them so too)
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
                column = self._add_component(var)
            add_index(column)
            add_data(coef)
        return constant

    def _add_component(self, var: VarData) -> int:
        """Give every variable of ``var``'s component a column, in index order (as Pyomo does)."""
        if not isinstance(var, VarData) or var.fixed:
            raise _NotPlain
        component = var.parent_component()
        if id(component) in self.seen:
            raise _NotPlain  # not reachable from its own component
        self.seen.add(id(component))
        for v in component.values():
            if v.fixed:
                raise _NotPlain
            self.column_of[id(v)] = len(self.variables)
            self.variables.append(v)
        return self.column_of[id(var)]


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
    lhs, rhs = expr._args_  # a relation's two sides; `.args` slices a copy
    if rhs.__class__ in native_numeric_types and lhs.__class__ is LinearExpression:
        return (rhs if cls is EqualityExpression else None), lhs, rhs
    if lhs.__class__ in native_numeric_types and rhs.__class__ is LinearExpression:
        return lhs, rhs, (lhs if cls is EqualityExpression else None)
    raise _NotPlain


def _csc(data: list[float], index: list[int], ptr: list[int], n_cols: int) -> Any:
    """Row-wise lists to a canonical CSC array, by the same steps as Pyomo's compiler."""
    nnz = len(data)
    matrix = sp.csr_array(
        (
            np.fromiter(data, np.float64, nnz),
            np.fromiter(index, np.int32, nnz),
            np.array(ptr, dtype=np.int32),
        ),
        [len(ptr) - 1, n_cols],
    ).tocsc()
    if nnz:
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
    return matrix
