"""Hand a Pyomo model to HiGHS and read the answer back.

The model is compiled to matrices with Pyomo's standard-form compiler and
passed straight to ``highspy``: no files, no stdout redirection (Pyomo's
in-process HiGHS interfaces swap process-wide stdout while solving), full
control over options and warm starts. HiGHS's statuses are translated here,
at the edge, into the engine's own ``SolveState``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from operator import attrgetter
from typing import TYPE_CHECKING

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.numeric_types import native_numeric_types
from pyomo.core.base.var import VarData
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from solvers.linear_form import ColumnList, read_linear_form
from solvers.options import SolverOptions

if TYPE_CHECKING:
    from solvers.rows import Columns, Pending


def _quiet_first_instance() -> None:
    """HiGHS prints a banner to fd 1 when a process makes its first solver.

    Make that first one here, at import, with fd 1 pointed at /dev/null, so that
    ``stockpile solve --json`` stays valid JSON. This runs once, under the import
    lock, before any solve: it is not the per-solve stdout swap that makes
    Pyomo's in-process HiGHS interfaces unsafe in threads.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_quiet_first_instance()


class SolveState(Enum):
    OPTIMAL = "optimal"  # proven within the gap
    LIMIT_WITH_SOLUTION = "limit_with_solution"  # stopped by a limit, incumbent in hand
    LIMIT_NO_SOLUTION = "limit_no_solution"  # stopped by a limit, nothing found
    INFEASIBLE = "infeasible"
    ERROR = "error"  # the solver failed; never shown to a user as a result


@dataclass(slots=True)
class Compiled:
    """A model as HiGHS sees it, with the Pyomo variable of every column."""

    columns: Sequence[VarData]  # a list, or a ColumnList (solvers.linear_form)
    sign: float  # +1 minimise, -1 maximise (HiGHS always minimises here)
    offset: float
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    matrix: object  # scipy.sparse.csc_array, duplicates merged
    integrality: np.ndarray
    # the model's free variables that are not columns (in no active row or objective)
    unused: list[pyo.Var]
    # (sign, offset, cost) of every further active objective, for ``next_stage``
    following: list[tuple[float, float, np.ndarray]] = field(default_factory=list)
    # the ``solvers.rows.Columns`` the columns were read from (``solvers.linear_form``), if any,
    # and each column's position in it (-1: not numbered there)
    numbering: Columns | None = None
    positions: np.ndarray | None = None

    @property
    def size(self) -> dict[str, int]:
        """Counts of variables, binaries, other integers and constraints."""
        ints = self.integrality.astype(bool)
        binary = ints & (self.col_lower == 0) & (self.col_upper == 1)
        return {
            "variables": len(self.columns),
            "binaries": int(binary.sum()),
            "integers": int((ints & ~binary).sum()),
            "constraints": len(self.row_lower),
        }


@dataclass(slots=True)
class SolveOutcome:
    state: SolveState
    objective: float | None  # in the model's own sense and units
    bound: float | None
    gap: float | None
    seconds: float
    values: np.ndarray | None  # one per column
    message: str = ""


def compile_model(model: pyo.ConcreteModel) -> Compiled:
    """Matrices of the active constraints and objectives; the first objective is the one solved.

    Further active objectives (in declaration order) are kept for ``next_stage``, so a
    lexicographic second stage needs no second compile.
    """
    fast = read_linear_form(model)
    info = fast or LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    signs = [1.0 if o.sense == pyo.minimize else -1.0 for o in info.objectives] or [1.0]
    costs = info.c.toarray() if info.c.shape[0] else np.zeros((1, len(info.columns)))
    offsets = np.asarray(info.c_offset, dtype=float) if len(info.c_offset) else np.zeros(1)
    sign = signs[0]
    A = info.A.tocsc()
    A.sum_duplicates()  # highspy misbehaves on duplicate entries; Pyomo merges them, be sure
    rhs = np.asarray(info.rhs, dtype=float)
    if fast is not None:
        kinds = fast.kinds
    else:
        kinds = np.fromiter((kind for _, kind in info.rows), dtype=np.int8, count=len(info.rows))
    row_lower = np.where(kinds <= 0, rhs, -np.inf)  # 0: equality, -1: >= rhs
    row_upper = np.where(kinds >= 0, rhs, np.inf)  # 0: equality, 1: <= rhs
    columns = info.columns
    col_lower, col_upper, integrality = column_bounds(columns)
    if fast is not None:
        unused = fast.unused
    else:
        taken = {id(v) for v in columns}
        unused = [v for v in model.component_data_objects(pyo.Var) if id(v) not in taken and not v.fixed]
    cost = sign * costs[0]
    offset = float(offsets[0])
    following = [(signs[k], signs[k] * float(offsets[k]), signs[k] * costs[k]) for k in range(1, len(signs))]
    return Compiled(
        columns=columns,
        sign=sign,
        offset=sign * offset,
        cost=cost,
        col_lower=col_lower,
        col_upper=col_upper,
        row_lower=row_lower,
        row_upper=row_upper,
        matrix=A,
        integrality=integrality,
        following=following,
        unused=unused,
        numbering=None if fast is None else fast.numbering,
        positions=None if fast is None else fast.positions,
    )


_LB, _UB, _DOMAIN = attrgetter("_lb"), attrgetter("_ub"), attrgetter("_domain")


def column_bounds(columns: Sequence[VarData]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds (+-inf where there is none) and integrality (0/1) of every column.

    The columns of a ``ColumnList`` are read component by component, and a pending
    ``ColumnVar``'s (``solvers.rows``) from what its variables will be, without making them.
    """
    if not isinstance(columns, ColumnList) or not columns.blocks:
        return _variable_bounds(columns)
    parts = []
    for block in columns.blocks:
        pending = block.pending()
        bounds = None if pending is None else _pending_bounds(pending)
        parts.append(bounds if bounds is not None else _variable_bounds(block.variables()))
    lower, upper, integer = zip(*parts, strict=True)
    return np.concatenate(lower), np.concatenate(upper), np.concatenate(integer)


def _pending_bounds(pending: Pending) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``_variable_bounds`` of the variables ``pending`` will make (the first's, each with its own upper bound).

    None when a bound is not a finite plain number or None.
    """
    first = pending.first
    upper = [first._ub] if pending.upper is None else pending.upper  # one for all, or one each
    return _bounds([first._lb], upper, np.zeros(len(pending.keys), dtype=np.intp), [first])


def _variable_bounds(columns: Sequence[VarData]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds (+-inf where there is none) and integrality (0/1) of these variables.

    The values of ``v.bounds`` and ``v.is_integer()``, which resolve the variable's
    domain again on every call (a microsecond a column). Here each distinct domain is
    resolved once and combined with the variables' own bounds in numpy, when every
    bound is a finite plain number or None (as ``solvers.build`` sets them); any other
    bound (an expression, an infinity, an integer beyond any float) has every column
    read through ``v.bounds``.
    """
    # The distinct domains (a handful: one per Var component, as a rule), resolved once each;
    # found among the first columns of runs of one domain (a component's, as a rule).
    ids = np.fromiter(map(id, map(_DOMAIN, columns)), dtype=np.uint64, count=len(columns))
    runs = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1]))) if len(ids) else np.zeros(0, np.int64)
    _, first, which = np.unique(ids[runs], return_index=True, return_inverse=True)
    first, which = runs[first], np.repeat(which.reshape(-1), np.diff(np.append(runs, len(ids))))
    bounds = _bounds(list(map(_LB, columns)), list(map(_UB, columns)), which, [columns[c] for c in first])
    return bounds if bounds is not None else _column_bounds_one_by_one(columns)


def _bounds(lbs: list, ubs: list | np.ndarray, which: np.ndarray, domains: list[VarData]):
    """Bounds and integrality of variables with these ``_lb`` and ``_ub``, and the domain of ``domains[which]``.

    One per variable, or one for all of them (``which`` has one per variable). None when a
    bound is not a finite plain number or None: then ``_column_bounds_one_by_one``.
    """
    plain = {*native_numeric_types, type(None)}
    if not ({*map(type, lbs), *_types(ubs)} <= plain):
        return None
    try:
        lower = np.array(lbs, dtype=float)  # None -> nan
        upper = np.array(ubs, dtype=float)
    except OverflowError:  # an integer bound beyond any float (Pyomo may still clip it to the domain)
        return None
    if np.isfinite(lower).sum() + lbs.count(None) < len(lbs) or np.isfinite(upper).sum() + _nones(ubs) < len(ubs):
        return None  # an infinite or NaN bound
    resolved = np.array([_domain_bounds(v) for v in domains], dtype=float).reshape(-1, 3)
    domain_lo, domain_hi, integer = resolved[which, 0], resolved[which, 1], resolved[which, 2]
    lower = np.where(np.isnan(lower), domain_lo, np.fmax(lower, domain_lo))
    upper = np.where(np.isnan(upper), domain_hi, np.fmin(upper, domain_hi))
    return lower, upper, integer.astype(np.int32)


def _types(values: list | np.ndarray) -> set[type]:
    """The types of ``values``: float for an array of floats (``Columns.make``'s upper bounds), at once."""
    return {float} if isinstance(values, np.ndarray) and values.dtype == np.float64 else {*map(type, values)}


def _nones(values: list | np.ndarray) -> int:
    return 0 if isinstance(values, np.ndarray) else values.count(None)


def _domain_bounds(v: VarData) -> tuple[float, float, int]:
    """(lower, upper, integer) of ``v``'s domain, +-inf where it has no bound."""
    lo, hi = v.domain.bounds()
    return (-np.inf if lo is None else lo, np.inf if hi is None else hi, int(v.is_integer()))


def _column_bounds_one_by_one(columns: list[VarData]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``column_bounds`` through each variable's own ``bounds`` and ``is_integer()``."""
    lower, upper = [], []
    for v in columns:
        lb, ub = v.bounds
        lower.append(-np.inf if lb is None else lb)
        upper.append(np.inf if ub is None else ub)
    integer = [int(v.is_integer()) for v in columns]
    return np.array(lower, dtype=float), np.array(upper, dtype=float), np.array(integer, dtype=np.int32)


def next_stage(compiled: Compiled, keep: float, row_scale: float) -> Compiled:
    """The next objective on the same matrices, the current one held at ``keep`` or better.

    One row is appended: the current objective, in its own sense, >= ``keep`` when it is
    maximised (<= when minimised), the row multiplied by ``row_scale``.
    """
    sign, offset, cost = compiled.following[0]
    own = compiled.sign * compiled.cost  # the current objective's coefficients, in its own sense
    bound = row_scale * (keep - compiled.sign * compiled.offset)
    A = _append_row(compiled.matrix, row_scale * own)
    lower, upper = (bound, np.inf) if compiled.sign < 0 else (-np.inf, bound)
    return Compiled(
        columns=compiled.columns,
        sign=sign,
        offset=offset,
        cost=cost,
        col_lower=compiled.col_lower,
        col_upper=compiled.col_upper,
        row_lower=np.append(compiled.row_lower, lower),
        row_upper=np.append(compiled.row_upper, upper),
        matrix=A,
        integrality=compiled.integrality,
        following=compiled.following[1:],
        unused=compiled.unused,
        numbering=compiled.numbering,
        positions=compiled.positions,
    )


def _append_row(matrix, row: np.ndarray):
    """``matrix`` (canonical CSC: sorted, no duplicates) with the dense ``row`` appended below it.

    The new row's entry goes last in each of its columns, so the result is canonical
    too, and equal entry for entry to ``scipy.sparse.vstack`` + ``sum_duplicates``;
    done in numpy because vstack's format conversions cost more than the
    second-stage setup of a small model.
    """
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    cols = np.flatnonzero(row)
    at = matrix.indptr[cols + 1]
    indices = np.insert(matrix.indices, at, matrix.shape[0]).astype(matrix.indices.dtype, copy=False)
    data = np.insert(matrix.data, at, row[cols])
    added = np.zeros(matrix.shape[1] + 1, dtype=matrix.indptr.dtype)
    added[cols + 1] = 1
    indptr = matrix.indptr + np.cumsum(added, dtype=matrix.indptr.dtype)
    return sp.csc_array((data, indices, indptr), shape=(matrix.shape[0] + 1, matrix.shape[1]))


def load(h: highspy.Highs, compiled: Compiled, options: dict[str, object]) -> highspy.HighsStatus:
    """Set HiGHS ``options`` on ``h`` and pass it the model: the one place a model meets HiGHS."""
    for name, value in options.items():
        h.setOptionValue(name, value)
    A = compiled.matrix
    return h.passModel(
        len(compiled.columns),
        A.shape[0],
        A.nnz,
        1,  # column-wise matrix
        1,  # minimise
        compiled.offset,
        compiled.cost,
        compiled.col_lower,
        compiled.col_upper,
        compiled.row_lower,
        compiled.row_upper,
        A.indptr.astype(np.int32, copy=False),
        A.indices.astype(np.int32, copy=False),
        A.data.astype(float, copy=False),
        compiled.integrality,
    )


def solve(
    compiled: Compiled, options: SolverOptions, time_left: float, start: np.ndarray | None = None
) -> SolveOutcome:
    """One HiGHS run; ``start`` is a full column vector to warm-start from."""
    began = time.perf_counter()
    h = highspy.Highs()
    has_integers = bool(compiled.integrality.any())
    status = load(h, compiled, options.highs(time_left, with_start=start is not None and has_integers))
    if status == highspy.HighsStatus.kError:
        return SolveOutcome(SolveState.ERROR, None, None, None, time.perf_counter() - began, None, "model rejected")
    if start is not None and has_integers:
        h.setSolution(len(start), np.arange(len(start), dtype=np.int32), np.asarray(start, dtype=float))
    h.run()
    outcome = _outcome(h, compiled, has_integers, time.perf_counter() - began)
    if start is not None and outcome.values is not None and not _values_match_objective(compiled, outcome):
        # Seen with HiGHS 1.16: after setSolution, a run that improves on the start can
        # report the better objective but hand back the start's column values. Trust
        # neither: solve again from scratch with the time that is left.
        left = time_left - outcome.seconds
        if left <= 0:
            return _values_at_their_own_objective(compiled, outcome)
        return solve(compiled, options, left)
    return outcome


def _values_at_their_own_objective(compiled: Compiled, outcome: SolveOutcome) -> SolveOutcome:
    """A stale answer with no time left to solve again: its values, at the objective they have.

    The values are the start's (HiGHS checked the start feasible before it searched), so
    a time limit still leaves the start as an allocation; the engine checks it like any
    other. Not proven: the reported objective belonged to other values.
    """
    value = compiled.sign * (float(compiled.cost @ outcome.values) + compiled.offset)
    return SolveOutcome(
        SolveState.LIMIT_WITH_SOLUTION,
        value,
        outcome.bound,
        relative_gap(value, outcome.bound),
        outcome.seconds,
        outcome.values,
        "stale warm start, no time left to solve again",
    )


def relative_gap(value: float, bound: float | None) -> float | None:
    """|bound - value| / max(|bound|, |value|): in [0, 1], and defined when the value is 0.

    (HiGHS divides by |value| alone, which is infinite for an empty first incumbent.)
    """
    if bound is None:
        return None
    scale = max(abs(bound), abs(value))
    return 0.0 if scale < 1e-12 else abs(bound - value) / scale


def _values_match_objective(compiled: Compiled, outcome: SolveOutcome) -> bool:
    value = float(compiled.cost @ outcome.values) + compiled.offset
    reported = compiled.sign * outcome.objective
    return abs(value - reported) <= 1e-6 * max(1.0, abs(reported))


_LIMITS = {
    highspy.HighsModelStatus.kTimeLimit,
    highspy.HighsModelStatus.kIterationLimit,
    highspy.HighsModelStatus.kSolutionLimit,
    highspy.HighsModelStatus.kInterrupt,
    highspy.HighsModelStatus.kMemoryLimit,
    highspy.HighsModelStatus.kObjectiveBound,
    highspy.HighsModelStatus.kObjectiveTarget,
}


def _outcome(h: highspy.Highs, compiled: Compiled, mip: bool, seconds: float) -> SolveOutcome:
    status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.array(h.getSolution().col_value, dtype=float) if has_solution else None
    objective = compiled.sign * info.objective_function_value if has_solution else None
    bound = compiled.sign * info.mip_dual_bound if mip and np.isfinite(info.mip_dual_bound) else objective
    gap = relative_gap(objective, bound) if has_solution else None
    if status in _LIMITS and gap == 0.0:
        # Stopped before its first bound: HiGHS then echoes the incumbent as the bound.
        bound = gap = None
    if status == highspy.HighsModelStatus.kOptimal and has_solution:
        state = SolveState.OPTIMAL
    elif status == highspy.HighsModelStatus.kInfeasible:
        state = SolveState.INFEASIBLE
    elif status in _LIMITS:
        state = SolveState.LIMIT_WITH_SOLUTION if has_solution else SolveState.LIMIT_NO_SOLUTION
    else:
        state = SolveState.ERROR
    return SolveOutcome(state, objective, bound, gap, seconds, values, h.modelStatusToString(status))
