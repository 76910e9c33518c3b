"""Prepare once, solve many: ``Resolver`` re-solves variants of one request on held models.

A frontier, a comparison or a stress test solves the same model many times with other
numbers. ``Resolver.solve(request)`` takes any valid request. It works out the model's
numbers for it with the very functions that build the Pyomo model, recording arrays
instead (``solvers.build.program.formulate``: no Pyomo, no validation), and looks for a held
model of the same structure. When there is one, only numbers differ: the compiled model
is derived from them and HiGHS's is changed in place (costs, column and row bounds,
matrix coefficients: ``solvers.solve.highs.HeldModel``), stage one starting from the last
allocation when that is still valid. Otherwise the model is built as ``allocate`` builds
it, and held (docs/formulation.md, "Re-solving in place").

In place is exactly a fresh build: the compiled arrays are those ``compile_model`` gives
for ``create_model`` of the same request, because ``formulate`` runs the same code and
the order of rows, columns and entries depends only on the structure compared
(``tests/solvers/test_resolve.py`` checks both, array for array). Every data-dependent choice of
the build (offer bounds, offers dropped, tiers cut, rows implied, scales, the spend
unit) is made again for each request; one that changes the structure rebuilds.

Every answer then goes through ``allocate``'s own steps (``solvers.engine.solve_compiled``):
both stages of max_coverage, the time limit, the independent check against the request
solved, the second try with tighter tolerances, the findings and diagnostics.

A Resolver holds one HiGHS object and its Pyomo models: it is not for concurrent use
(HiGHS is not thread-safe). Use one per thread or process; ``close`` frees the models.
"""

from __future__ import annotations

import copy
import functools
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from models import AllocationRequest, AllocationResult, Objective
from solvers.budget import TimeBudget
from solvers.build.program import Formulation, create_model, formulate, release
from solvers.engine import _without_gc, solve_compiled
from solvers.prepare.instance import Instance, prepare
from solvers.solve.highs import Compiled, HeldModel, SolveOutcome, compile_model, solve
from solvers.tuning import EngineTuning


@dataclass(slots=True)
class ResolverStats:
    """What a Resolver did with the requests it solved.

    ``in_place``: answered on a held model changed in place (no Pyomo build), of which
    ``switched`` on one held for another structure than the last request's (HiGHS is then
    given that model whole); ``rebuilt``: built as ``allocate`` builds.
    """

    solves: int = 0
    in_place: int = 0
    switched: int = 0
    rebuilt: int = 0


# Models held at once, one per structure met (the most recently used kept): a comparison or
# a stress test goes back and forth between a few structures (the base, a country excluded).
KEEP = 4


class Resolver:
    """Prepare once, solve many: re-solves variants of one base request in place.

    ``solve(request)`` answers exactly as ``allocate(request, options)`` would (same
    statuses, findings, checks and limits). When ``request`` has the structure of a held
    model (same offers usable, tiers, rows and variables) and differs only in numbers
    (budget, prices, capacities, tariffs, caps' shares, the supplier share, mineral
    targets, weights and limits), that model is changed in place; otherwise the model is
    built as ``allocate`` builds it, and held from then on (up to ``keep`` models, one
    per structure, the least recently used let go). Not for concurrent use: one solve
    at a time (HiGHS is not thread-safe).
    """

    KEEP = KEEP  # models held when ``keep`` is not given

    def __init__(self, base: AllocationRequest, options: EngineTuning | None = None, keep: int = KEEP) -> None:
        self.options = options
        self.keep = max(keep, 1)
        self.stats = ResolverStats()
        self._held: HeldModel | None = HeldModel()
        self._run = functools.partial(_remembering, self, held=self._held)
        # structure -> (Pyomo model, its image), least recently used first
        self._models: OrderedDict[bytes, tuple[object, _Image]] = OrderedDict()
        self._current: bytes | None = None  # the structure of the last request solved
        self._last: np.ndarray | None = None  # the last allocation's column values (of ``_current``)
        with _without_gc():
            instance = prepare(base)
            numbers = formulate(instance)
            self._current = self._base = _structure(numbers)
            model, _ = self._build(instance, numbers, self._current)
            if self._current not in self._models:  # (a model that cannot be changed in place is not kept)
                release(model)

    def solve(self, request: AllocationRequest, options: EngineTuning | None = None) -> AllocationResult:
        """Solve ``request`` (any valid one) as ``allocate`` would; in place when only numbers changed.

        ``options`` default to the Resolver's. Raises as ``allocate`` does.
        """
        began = time.perf_counter()
        if self._held is None:
            raise RuntimeError("this Resolver is closed")
        with _without_gc():
            opts = (options or self.options or EngineTuning()).for_request(request)
            budget = TimeBudget.start(opts.time_limit_s)
            instance = prepare(request)
            numbers = formulate(instance)
            key = _structure(numbers)
            held = self._models.get(key)
            start = None
            if held is None:
                model, compiled = self._build(instance, numbers, key)
                self.stats.rebuilt += 1
            else:
                self._models.move_to_end(key)
                pyomo_model, image = held
                model, compiled = _View(numbers, pyomo_model.columns), image.derive(numbers)
                if key == self._current and self._last is not None and _satisfies(compiled, self._last):
                    start = self._last
                self.stats.in_place += 1
                self.stats.switched += key != self._current
            self.stats.solves += 1
            self._current, self._last = key, None
            try:
                return solve_compiled(model, compiled, instance, opts, began, began, self._run, budget, start)
            finally:
                if held is None and key not in self._models:  # a model that cannot be changed in place
                    release(model)

    def restart(self) -> None:
        """Solve on from here as a new ``Resolver(base)`` would, keeping the models held.

        The next solve starts from nothing (no last allocation) on a fresh HiGHS object,
        as a new Resolver's first does: what a run of solves answers then does not depend
        on the solves before it. A model held answers exactly as a fresh build would
        (``_Image``), so the models kept only save building them again.
        """
        if self._held is None:
            raise RuntimeError("this Resolver is closed")
        self._held.loaded = None  # the next model is passed whole, to a new HiGHS object
        self._current, self._last = self._base, None

    def close(self) -> None:
        """Free the held models and HiGHS object; the Resolver cannot solve after this."""
        for model, _ in self._models.values():
            release(model)
        self._models.clear()
        self._held = None

    def _build(self, instance: Instance, numbers: Formulation, key: bytes | None = None):
        """Build and compile the model of ``instance`` as ``allocate`` does, and hold it if it can be changed in place.

        Returns the model and its compiled form.
        """
        key = _structure(numbers) if key is None else key
        model = create_model(instance)
        image = _Image.of(numbers, model, compile_model(model), key)
        if image.in_place:
            self._models[key] = (model, image)
            while len(self._models) > self.keep:
                _, (old, _) = self._models.popitem(last=False)
                release(old)
        return model, image.compiled


def _remembering(
    resolver: Resolver, compiled: Compiled, options, time_left, start=None, held=None, watch=None
) -> SolveOutcome:
    """``solve`` on the held model, remembering the last finite allocation found (the next start)."""
    outcome = solve(compiled, options, time_left, start=start, held=held, watch=watch)
    if outcome.values is not None and np.all(np.isfinite(outcome.values)):
        resolver._last = outcome.values
    return outcome


# A start must satisfy the rows and bounds to this (absolute, on the scaled model): HiGHS checks it again.
START_TOLERANCE = 1e-9


def _satisfies(compiled: Compiled, values: np.ndarray) -> bool:
    """Whether ``values`` lie within ``compiled``'s bounds and rows (integers whole)."""
    if len(values) != len(compiled.col_lower):
        return False
    tol = START_TOLERANCE
    if np.any(values < compiled.col_lower - tol) or np.any(values > compiled.col_upper + tol):
        return False
    ints = compiled.integrality.astype(bool)
    if np.any(np.abs(values[ints] - np.round(values[ints])) > tol):
        return False
    activity = compiled.matrix @ values
    return not (np.any(activity < compiled.row_lower - tol) or np.any(activity > compiled.row_upper + tol))


class _View:
    """What the engine reads of a model answered in place: the new request's arrays, on the held numbering."""

    __slots__ = ("arrays", "columns", "instance", "spend_unit")

    def __init__(self, numbers: Formulation, columns) -> None:
        self.arrays = numbers.arrays
        self.columns = columns
        self.instance = numbers.instance
        self.spend_unit = numbers.spend_unit


@dataclass(slots=True)
class _Image:
    """How a formulation's numbers land in the held compiled model, and the structure they must keep.

    Found once per build by matching the formulation with the model's compiled arrays,
    and checked entry for entry: any mismatch leaves ``in_place`` False (every request
    then rebuilds).
    """

    compiled: Compiled
    structure: bytes
    in_place: bool
    slots: np.ndarray | None = None  # where each nonzero row entry goes in compiled.matrix.data
    column: np.ndarray | None = None  # the compiled column of every variable position (-1: none)

    @staticmethod
    def of(numbers: Formulation, model, compiled: Compiled, structure: bytes) -> _Image:
        image = _Image(compiled, structure, False)
        positions = compiled.positions
        if compiled.numbering is not model.columns or positions is None or np.any(positions < 0):
            return image
        column = np.full(model.columns.size, -1, dtype=np.int64)
        column[positions] = np.arange(len(positions))
        rows, cols, values = _entries(numbers, column)
        if np.any(cols < 0) or len(rows) != compiled.matrix.nnz:
            return image
        A = compiled.matrix
        height = max(A.shape[0], 1)
        stored = np.repeat(np.arange(A.shape[1]), np.diff(A.indptr)) * height + A.indices  # sorted: canonical CSC
        wanted = cols * height + rows
        slots = np.searchsorted(stored, wanted)
        if np.any(slots >= len(stored)) or not np.array_equal(stored[slots], wanted):
            return image
        if len(np.unique(slots)) != len(slots) or not np.array_equal(A.data[slots], values):
            return image
        image.slots, image.column = slots, column
        derived = image.derive(numbers)
        image.in_place = derived is not None and _same(derived, compiled)
        return image

    def derive(self, numbers: Formulation) -> Compiled | None:
        held = self.compiled
        _, _, values = _entries(numbers, self.column)
        data = np.empty(held.matrix.nnz)
        data[self.slots] = values
        A = copy.copy(held.matrix)  # the held pattern (never changed) with these numbers: no format checks again
        A.data = data
        lower, upper = _row_bounds(numbers)
        score, spend = (self._dense(*part) for part in (numbers.score, numbers.spend))
        if score is None or spend is None:
            return None
        if numbers.instance.request.objective is Objective.MAX_COVERAGE:
            sign, cost, following = -1.0, -score, [(1.0, 0.0, spend)]
        else:
            sign, cost, following = 1.0, spend, []
        return Compiled(
            columns=held.columns,
            sign=sign,
            offset=held.offset,
            cost=cost,
            col_lower=held.col_lower,
            col_upper=numbers.upper[held.positions],
            row_lower=lower,
            row_upper=upper,
            matrix=A,
            integrality=held.integrality,
            unused=held.unused,
            following=following,
            numbering=held.numbering,
            positions=held.positions,
        )

    def _dense(self, positions: np.ndarray, coefs: np.ndarray) -> np.ndarray | None:
        """An objective over the compiled columns (None: a variable of it is not a column)."""
        at = self.column[positions]
        if np.any(at < 0) or len(np.unique(at)) != len(at):
            return None
        out = np.zeros(len(self.compiled.cost))
        out[at] = coefs
        return out


def _entries(numbers: Formulation, column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every nonzero row entry (row, compiled column, value), families in order, rows in order."""
    rows, cols, values = [], [], []
    start = 0
    for _, family in numbers.families:
        matrix = family.matrix
        count = len(matrix.lower)
        if not count:
            continue
        rows.append(start + np.repeat(np.arange(count), np.diff(matrix.indptr)))
        cols.append(matrix.indices)
        values.append(matrix.data)
        start += count
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    row, position, value = np.concatenate(rows), np.concatenate(cols), np.concatenate(values)
    nonzero = value != 0  # the compiler drops zeros
    return row[nonzero], column[position[nonzero]], value[nonzero]


def _row_bounds(numbers: Formulation) -> tuple[np.ndarray, np.ndarray]:
    families = [family.matrix for _, family in numbers.families]
    return np.concatenate([f.lower for f in families]), np.concatenate([f.upper for f in families])


def _structure(numbers: Formulation) -> bytes:
    """What must not change for a held model to take ``numbers`` in place, as one key.

    The objective, the count of every kind of variable, each family's rows (their
    variables, which of their entries are zero, their kind of bound), and the variables
    of both objectives. Everything else is a number. The arrays are joined with their
    lengths in front, so that different structures never give the same key.
    """
    arrays = [np.array(numbers.sizes, dtype=np.int64)]
    for _, family in numbers.families:  # (their names and order are those of the build: always the same)
        f = family.matrix
        kind = np.where(f.lower == f.upper, 0, np.where(f.lower == -np.inf, 1, np.where(f.upper == np.inf, -1, 2)))
        arrays += [f.indptr, f.indices, f.data == 0, kind]
    arrays += [numbers.score[0], numbers.spend[0]]
    lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
    joined = np.concatenate([lengths, *(a.astype(np.int64, copy=False) for a in arrays)])
    return numbers.instance.request.objective.value.encode() + joined.tobytes()


def _same(a: Compiled, b: Compiled) -> bool:
    """Whether two compiled models are the same, array for array."""
    arrays = ("cost", "col_lower", "col_upper", "row_lower", "row_upper", "integrality")
    if a.sign != b.sign or a.offset != b.offset or len(a.following) != len(b.following):
        return False
    if not all(np.array_equal(getattr(a, name), getattr(b, name)) for name in arrays):
        return False
    for (s1, o1, c1), (s2, o2, c2) in zip(a.following, b.following, strict=True):
        if s1 != s2 or o1 != o2 or not np.array_equal(c1, c2):
            return False
    A, B = a.matrix, b.matrix
    return (
        A.shape == B.shape
        and np.array_equal(A.indptr, B.indptr)
        and np.array_equal(A.indices, B.indices)
        and np.array_equal(A.data, B.data)
    )
