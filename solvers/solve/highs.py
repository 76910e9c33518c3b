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
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp

from solvers.build.linear_form import ColumnList, read_linear_form
from solvers.build.pyomo_door import (
    VAR_DOMAIN,
    VAR_LB,
    VAR_UB,
    LinearStandardFormCompiler,
    VarData,
    native_numeric_types,
)
from solvers.trace import event, phase
from solvers.tuning import EngineTuning

if TYPE_CHECKING:
    from solvers.build.rows import Columns, Pending


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

    columns: Sequence[VarData]  # a list, or a ColumnList (solvers.build.linear_form)
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
    # the ``solvers.build.rows.Columns`` the columns were read from (``solvers.build.linear_form``), if any,
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
    watched_out: bool = False  # stopped by its ``Watch``: nothing better than the start when the watch came


@dataclass(frozen=True, slots=True)
class Watch:
    """Stop a MIP run at ``at`` (a ``time.perf_counter()`` reading) if it has nothing better than its start.

    ``trivial``: the start's objective as HiGHS minimises it (``objective_at``); None when
    there is no start, so that any allocation found counts. The engine stops a run this way to
    make the construction heuristic's allocation early, and starts HiGHS again from it.
    """

    at: float
    trivial: float | None = None
    least_s: float = 0.0  # a guided solve's run is watched no sooner than this after its own start

    def has_nothing(self, incumbent: float) -> bool:
        """Whether HiGHS's incumbent objective (infinite: none) is no better than the start's."""
        if not np.isfinite(incumbent):
            return True
        return self.trivial is not None and incumbent >= self.trivial - 1e-9 * max(1.0, abs(self.trivial))


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


_LB, _UB, _DOMAIN = VAR_LB, VAR_UB, VAR_DOMAIN  # the bounds and domain as given (solvers.build.pyomo_door)


def column_bounds(columns: Sequence[VarData]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds (+-inf where there is none) and integrality (0/1) of every column.

    The columns of a ``ColumnList`` are read component by component, and a pending
    ``ColumnVar``'s (``solvers.build.rows``) from what its variables will be, without making them.
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
    upper = [_UB(first)] if pending.upper is None else pending.upper  # one for all, or one each
    return _bounds([_LB(first)], upper, np.zeros(len(pending.keys), dtype=np.intp), [first])


def _variable_bounds(columns: Sequence[VarData]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds (+-inf where there is none) and integrality (0/1) of these variables.

    The values of ``v.bounds`` and ``v.is_integer()``, which resolve the variable's
    domain again on every call (a microsecond a column). Here each distinct domain is
    resolved once and combined with the variables' own bounds in numpy, when every
    bound is a finite plain number or None (as ``solvers.build.program`` sets them); any other
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
    compiled: Compiled,
    options: EngineTuning,
    time_left: float,
    start: np.ndarray | None = None,
    held: HeldModel | None = None,
    watch: Watch | None = None,
) -> SolveOutcome:
    """One HiGHS run; ``start`` is a full column vector to warm-start from.

    With ``held``, the run is made on its HiGHS object, the model changed in place to ``compiled``.
    With ``watch``, a MIP run is stopped when it comes with nothing better than the start (``Watch``).
    """
    began = time.perf_counter()
    has_integers = bool(compiled.integrality.any())
    settings = options.highs(time_left, with_start=start is not None and has_integers)
    if held is None:
        h = highspy.Highs()
        status = load(h, compiled, settings)
    else:
        h, status = held.take(compiled, settings)
    if status == highspy.HighsStatus.kError:
        return SolveOutcome(SolveState.ERROR, None, None, None, time.perf_counter() - began, None, "model rejected")
    if start is not None and has_integers:
        h.setSolution(len(start), np.arange(len(start), dtype=np.int32), np.asarray(start, dtype=float))
    size = {"columns": len(compiled.columns), "rows": compiled.matrix.shape[0], "mip": has_integers}
    watched_out = False
    watching = watch is not None and has_integers
    if watching:

        def look(kind, message, out, into, user) -> None:
            nonlocal watched_out
            if not watched_out and time.perf_counter() >= watch.at and watch.has_nothing(out.mip_primal_bound):
                into.user_interrupt = watched_out = True

        h.setCallback(look, None)
        h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    try:
        with phase("highs_run", **size, time_limit=time_left, start=start is not None and has_integers):
            h.run()
    finally:
        if watching:  # (a held HiGHS object runs again, unwatched)
            h.stopCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    outcome = _outcome(h, compiled, has_integers, time.perf_counter() - began)
    if watched_out:
        outcome = replace(outcome, watched_out=True)
    answer = {"objective": outcome.objective, "bound": outcome.bound, "gap": outcome.gap, "seconds": outcome.seconds}
    event("highs_answer", state=outcome.state.value, **answer)
    if start is not None and outcome.values is not None and not _values_match_objective(compiled, outcome):
        # HiGHS 1.16, after setSolution, can report a run's better objective but hand back
        # the start's column values. Trust neither: solve again from scratch with the time
        # that is left.
        left = time_left - outcome.seconds
        if left <= 0:
            return _values_at_their_own_objective(compiled, outcome)
        return solve(compiled, options, left)
    return outcome


class HeldModel:
    """One HiGHS object kept across runs; each run's model is reached by changing the last one in place.

    ``take(compiled)`` compares ``compiled`` with the model loaded: when both have the same
    columns, integrality and matrix pattern (rows appended or removed at the end apart,
    as ``next_stage`` appends its row), only what differs is changed (costs, column and
    row bounds, matrix coefficients, rows added or deleted), unless more than
    ``CHANGE_LIMIT`` coefficients differ; otherwise the model is passed whole. Either way
    HiGHS then holds exactly ``compiled``. Not thread-safe, as HiGHS is not: one run at
    a time.
    """

    def __init__(self) -> None:
        self.highs = highspy.Highs()
        self.loaded: Compiled | None = None
        self.passed = 0  # models passed whole
        self.changed = 0  # models reached by changes in place

    def take(self, compiled: Compiled, options: dict[str, object]) -> tuple[highspy.Highs, highspy.HighsStatus]:
        """The HiGHS object with ``options`` set and ``compiled`` loaded, and the status of loading it."""
        h, old = self.highs, self.loaded
        if old is not None and _changeable(old, compiled):
            for name, value in options.items():
                h.setOptionValue(name, value)
            try:
                status = _change(h, old, compiled)
            except Exception:
                self.loaded = None  # the object's model is unknown: passed whole next time
                raise
            if status is not None and status != highspy.HighsStatus.kError:
                self.loaded = compiled
                self.changed += 1
                return h, status
            if status is None:  # too many coefficients to change one by one: the same object, the model whole
                return h, self._pass_whole(h, compiled, options)
        self.highs = h = highspy.Highs()  # a fresh object: nothing of the last model's search is kept
        return h, self._pass_whole(h, compiled, options)

    def _pass_whole(self, h: highspy.Highs, compiled: Compiled, options: dict[str, object]) -> highspy.HighsStatus:
        """Load ``compiled`` whole into ``h``, which then holds it unless HiGHS refused it."""
        self.loaded = None
        status = load(h, compiled, options)
        if status != highspy.HighsStatus.kError:
            self.loaded = compiled
            self.passed += 1
        return status


def _rows_above(matrix, rows: int):
    """The entries of CSC ``matrix`` in rows below ``rows``: (indptr, indices, data)."""
    if matrix.shape[0] == rows:
        return matrix.indptr, matrix.indices, matrix.data
    keep = matrix.indices < rows
    kept = np.concatenate(([0], np.cumsum(keep)))  # entries kept before each entry
    return kept[matrix.indptr], matrix.indices[keep], matrix.data[keep]


def _changeable(old: Compiled, new: Compiled) -> bool:
    """Whether ``new`` is ``old`` with changed numbers, and rows added or removed at the end."""
    if len(old.cost) != len(new.cost) or not np.array_equal(old.integrality, new.integrality):
        return False
    common = min(old.matrix.shape[0], new.matrix.shape[0])
    a, b = _rows_above(old.matrix, common), _rows_above(new.matrix, common)
    return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# More matrix coefficients than this to change, and the model is passed whole instead: HiGHS
# changes them one call each, and on the 500-offer benchmark instance a budget's 817 take
# 1.5 to 9 ms where passing the whole model takes 0.2 to 0.3 ms (a DLA budget's 12: 0.1 ms).
CHANGE_LIMIT = 64


def _change(h: highspy.Highs, old: Compiled, new: Compiled) -> highspy.HighsStatus | None:
    """Change ``old``, loaded in ``h``, into ``new`` (``_changeable``): only what differs.

    None, having changed nothing, when more than ``CHANGE_LIMIT`` coefficients differ.
    """
    m_old, m_new = old.matrix.shape[0], new.matrix.shape[0]
    common = min(m_old, m_new)
    indptr, indices, data = _rows_above(new.matrix, common)
    differs = np.flatnonzero(_rows_above(old.matrix, common)[2] != data)
    if len(differs) > CHANGE_LIMIT:
        return None
    status = highspy.HighsStatus.kOk
    worst = [status]

    def did(result: highspy.HighsStatus) -> None:
        if result == highspy.HighsStatus.kError:
            worst[0] = result

    if m_new < m_old:
        gone = np.arange(m_new, m_old, dtype=np.int32)
        did(h.deleteRows(len(gone), gone))
    cols = np.flatnonzero(old.cost != new.cost).astype(np.int32)
    if len(cols):
        did(h.changeColsCost(len(cols), cols, new.cost[cols]))
    if old.offset != new.offset:
        did(h.changeObjectiveOffset(new.offset))
    cols = np.flatnonzero((old.col_lower != new.col_lower) | (old.col_upper != new.col_upper)).astype(np.int32)
    if len(cols):
        did(h.changeColsBounds(len(cols), cols, new.col_lower[cols], new.col_upper[cols]))
    lower, upper = new.row_lower[:common], new.row_upper[:common]
    rows = np.flatnonzero((old.row_lower[:common] != lower) | (old.row_upper[:common] != upper)).astype(np.int32)
    if len(rows):
        did(h.changeRowsBounds(len(rows), rows, lower[rows], upper[rows]))
    if len(differs):
        column = np.searchsorted(indptr, differs, side="right") - 1
        for row, col, value in zip(indices[differs].tolist(), column.tolist(), data[differs].tolist(), strict=True):
            did(h.changeCoeff(row, col, value))
    if m_new > m_old:  # rows appended at the end (``next_stage``): added row-wise
        added = new.matrix[m_old:m_new, :].tocsr()
        did(
            h.addRows(
                m_new - m_old,
                new.row_lower[m_old:],
                new.row_upper[m_old:],
                added.nnz,
                added.indptr[:-1].astype(np.int32),
                added.indices.astype(np.int32),
                added.data.astype(float),
            )
        )
    return worst[0]


def _values_at_their_own_objective(compiled: Compiled, outcome: SolveOutcome) -> SolveOutcome:
    """A stale answer with no time left to solve again: its values, at the objective they have.

    The values are the start's (HiGHS checked the start feasible before it searched), so
    a time limit still leaves the start as an allocation; the engine checks it like any
    other. Not proven: the reported objective belonged to other values.
    """
    value = compiled.sign * objective_at(compiled, outcome.values)
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


def objective_at(compiled: Compiled, values: np.ndarray) -> float:
    """The objective of ``values`` as HiGHS minimises it: cost @ values + offset."""
    return float(compiled.cost @ values) + compiled.offset


def _values_match_objective(compiled: Compiled, outcome: SolveOutcome) -> bool:
    value = objective_at(compiled, outcome.values)
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
