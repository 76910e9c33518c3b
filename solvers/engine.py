"""``allocate``: the one entry point from a validated request to a checked result.

prepare (plain data) -> create_model (Pyomo) -> compile -> HiGHS -> extract
(snapped quantities) -> build_result (plain arithmetic) -> check_result
(independent) -> findings. ``max_coverage`` is solved lexicographically: the
best coverage score first, then the least spend that keeps that score,
warm-started from the first stage's allocation. Large models (from
``SolverOptions.guide_min_integers`` integer columns) are solved in each stage by
the guided solve of ``solvers/guide.py`` instead of one HiGHS run. A caller
that may have to stop a long solve (the server's hard deadline) can ask for the
allocations found on the way, each checked, as they come (``on_provisional``).
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo

from models import AllocationRequest, AllocationResult, Finding, ModelSize, Objective, Severity, Status
from solvers.build import SCORE_ROW_SCALE, SCORE_SLACK, column_offers, create_model, release
from solvers.check import Violation, check_result
from solvers.diagnose import diagnose
from solvers.errors import SolutionRejected, SolverFailed
from solvers.extract import quantities, solution
from solvers.guide import cheapest_offers, solve_guided
from solvers.highs import Compiled, SolveOutcome, SolveState, compile_model, next_stage, solve
from solvers.options import SolverOptions
from solvers.prepare import Instance, prepare
from solvers.report import SolveStats, build_result, empty_result, money, out_of_scale, solved_findings

log = logging.getLogger("stockpile.solvers")

# Receives the checked allocations a solve finds before its final answer (see ``allocate``).
OnProvisional = Callable[[AllocationResult], None]


def allocate(
    request: AllocationRequest, options: SolverOptions | None = None, on_provisional: OnProvisional | None = None
) -> AllocationResult:
    """Solve one request; every returned allocation has passed ``check_result``.

    ``on_provisional``, when given, is called (in this thread, while the solve goes on)
    with each allocation found before the final one that is worth keeping should the
    caller have to stop the solve: stage one's answer under ``max_coverage`` and, for
    guided models, the restricted answer the full model then tries to improve. Each has
    passed ``check_result``, has status ``feasible`` and says in its findings what is
    not yet proven. A server that kills a solve at its hard deadline answers with the
    last one instead of nothing. Each is better than the one before it. Calls that have
    run less than ``options.provisional_after_s`` report none: they are about to end
    anyway. Reporting never fails the solve: an error in it (the callback's included,
    MemoryError excepted) is logged and the solve goes on.

    Raises ``MemoryError`` when the model does not fit in memory: Python's, or HiGHS's
    before it has found any allocation (a worker under a memory cap answers "model too
    large"), and ``SolverError`` when HiGHS fails or an answer fails its check twice.
    """
    began = time.perf_counter()
    with _without_gc():  # first: a collection due from earlier work would land inside this call
        opts = (options or SolverOptions()).for_request(request)
        deadline = began + opts.time_limit_s
        instance = prepare(request)
        prepare_s = time.perf_counter() - began
        reporter = None if on_provisional is None else _Reporter(on_provisional, began, opts.provisional_after_s)
        result = _solve_checked(instance, opts, deadline, began, prepare_s, reporter)
        if result is None:  # the check failed: same model, tighter tolerances
            result = _solve_checked(instance, opts.tighter(), deadline, began, prepare_s, reporter, last_try=True)
    assert result is not None
    return result


# Time kept back for the work after the last solve, as a share of the work before the first
# (``prepare``, then building and compiling the model): all of it scales with the offers.
# At 50,000 offers (change 25, docs/performance.md) reading, reporting and checking the
# answer and freeing the model took 123 ms instrumented, 0.30 times the 407 ms before the
# first solve, but up to 0.27 s in the benchmark's process, beside the HiGHS run left behind
# at the limit: the whole of the work before is kept back. (The build alone was the measure,
# at 0.6, until change 25 made it cheaper than the work after the solve.)
POST_SOLVE_SHARE = 1.0


@contextmanager
def _without_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (process-wide) while a request is solved.

    Building makes hundreds of thousands of long-lived Pyomo objects, and every
    collection rescans all of them: about 40% of build and compile time at 10,000
    offers, and a fifth of everything outside HiGHS when reading, reporting and
    checking are counted too (docs/performance.md). None of them is garbage before
    the call ends, and a call makes little cyclic garbage of its own. Re-enabled after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _solve_checked(
    instance: Instance,
    opts: SolverOptions,
    deadline: float,
    began: float,
    prepare_s: float,
    reporter: _Reporter | None,
    last_try: bool = False,
) -> AllocationResult | None:
    # the work before this try's first solve began: prepare's time, then the build from here
    setup_began = time.perf_counter() - prepare_s
    model = create_model(instance)
    try:
        return _solve_model(model, instance, opts, deadline, began, setup_began, reporter, last_try)
    finally:
        release(model)  # freed when this returns, not at the next garbage collection


def _solve_model(
    model: pyo.ConcreteModel,
    instance: Instance,
    opts: SolverOptions,
    deadline: float,
    began: float,
    setup_began: float,
    reporter: _Reporter | None,
    last_try: bool,
) -> AllocationResult | None:
    """``_solve_checked`` from the built model on: compile, solve, read, report, check."""
    request = instance.request
    compiled = compile_model(model)
    guide = (
        _Guide(column_offers(model, compiled), functools.cache(lambda: cheapest_offers(instance)))
        if _guided(compiled, opts)
        else None
    )
    opts = opts.for_model(request.objective, guided=guide is not None)
    size = ModelSize(**compiled.size)
    report = None if reporter is None else _Provisional(reporter, model, instance, opts, size)
    # Reading, reporting and checking the answer, then freeing the model, take a share of the
    # work so far: keep that back from the solver, so the whole call ends within the time limit.
    deadline -= min(POST_SOLVE_SHARE * (time.perf_counter() - setup_began), 0.1 * opts.time_limit_s)
    # Without floors, buying nothing is feasible: hand it to HiGHS so that a time
    # limit always leaves an allocation in hand (an empty one at worst).
    trivial = np.zeros(len(compiled.columns)) if not any(md.floor > 0 for md in instance.minerals) else None
    on_answer = None if report is None else report.stage(compiled)
    first = _solve(compiled, guide, opts, deadline - time.perf_counter(), trivial, on_answer)
    if first.state is SolveState.ERROR:
        raise SolverFailed(f"HiGHS failed: {first.message}")
    if first.state is SolveState.INFEASIBLE:
        findings = diagnose(instance, opts, max(deadline - time.perf_counter(), 1.0), size) if opts.diagnose else []
        return empty_result(request, Status.INFEASIBLE, time.perf_counter() - began, findings, size)
    if first.values is None:
        if _out_of_memory(first):
            # HiGHS's own allocations failed before it found anything: out of memory, as when
            # Python's fail (a worker at its memory cap says "model too large" and starts afresh).
            raise MemoryError(f"HiGHS stopped before any allocation: {first.message}")
        findings = [stopped_finding(first.message, opts)]
        return empty_result(request, Status.NO_SOLUTION, time.perf_counter() - began, findings, size)

    answer = solution(model, compiled, first.values)
    proven = first.state is SolveState.OPTIMAL
    stats = _stats(model, Status.OPTIMAL if proven else Status.FEASIBLE, size, first)
    notes = [] if proven else [_stopped_note(request, stats, opts)]
    # What the solver says its allocation achieves: stage one's score (min_cost: spend), stage two's spend.
    claim = _Claim(score=first.objective) if request.objective is Objective.MAX_COVERAGE else _spent(model, first)
    if request.objective is Objective.MAX_COVERAGE:
        if report is not None:
            report.send(first, first, compiled, proven)
        second, cheaper = _least_spend_stage(model, compiled, guide, first, opts, deadline, report)
        if cheaper is not None:
            answer, claim = cheaper[0], replace(claim, spend=_spent(model, cheaper[1]).spend)
        if proven and second is not SolveState.OPTIMAL:  # (an unproven score's note says so)
            notes.append(_stage_two_note(second))
            stats = replace(stats, status=Status.FEASIBLE)
    result, violations = _read_result(model, instance, answer, opts, stats, notes, stopped=not proven)
    if violations:
        if last_try:
            raise SolutionRejected(violations)
        return None
    short = claim.unmet_by(result)
    if short is not None:
        # Tighter tolerances leave the solver less to lean on, if there is time for another try
        # as long as this one; else this valid allocation is better than none.
        now = time.perf_counter()
        if not last_try and deadline - now >= now - setup_began:
            return None
        result = _not_as_claimed(result, short)
    scale = out_of_scale(instance)
    if scale:  # valid, but the solver's proof may rest on its tolerances: not called optimal
        result = result.model_copy(update={"status": Status.FEASIBLE, "diagnostics": [*scale, *result.diagnostics]})
    return result.model_copy(update={"solve_seconds": time.perf_counter() - began})


# The allocation read back may score this much less (absolute), or spend this much more
# (relative), than the solver said: snapping to minimum orders, lots and 9 digits moves it less.
CLAIM_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the solver said its allocation achieves, in request units (None: nothing said)."""

    score: float | None = None
    spend: float | None = None

    def unmet_by(self, result: AllocationResult) -> str | None:
        """How ``result``, the allocation as read back, falls short of the claim; None if it does not.

        A usage binary within HiGHS's integrality tolerance of 0 lets the solver buy up to that
        share of the offer's bound without paying its fixed cost or minimum order: with a bound
        10^7 times the target, the whole target. Read back, such an offer is unused, and the
        allocation scores less (or costs more) than the solver said. It still passes the check.
        """
        if self.score is not None and (result.coverage_score or 0.0) < self.score - CLAIM_TOLERANCE:
            return f"it scores {result.coverage_score or 0.0:.6g} where the solver's allocation scored {self.score:.6g}"
        if self.spend is not None and result.total_spend > self.spend * (1 + CLAIM_TOLERANCE) + CLAIM_TOLERANCE:
            return f"it spends {money(result.total_spend)} where the solver's allocation spent {money(self.spend)}"
        return None


def _spent(model: pyo.ConcreteModel, outcome: SolveOutcome) -> _Claim:
    """The spend a least-spend run of ``model`` claims (its objective is spend in the model's spend unit)."""
    return _Claim(spend=None if outcome.objective is None else outcome.objective * model.spend_unit)


def _not_as_claimed(result: AllocationResult, short: str) -> AllocationResult:
    """A valid allocation that is not what the solver found, even with tighter tolerances: not proven best."""
    finding = Finding(
        code="not_proven_numerically",
        severity=Severity.WARNING,
        message=f"This allocation passes every rule but may not be the best: read back, {short}. The solver "
        "leaned on its integrality tolerance, which happens when an offer's capacity is many million times "
        "what a mineral needs; a max_quantity (or capacities) nearer to what can be used avoids it.",
    )
    return result.model_copy(
        update={"status": Status.FEASIBLE, "mip_gap": None, "diagnostics": [finding, *result.diagnostics]}
    )


def _read_result(
    model: pyo.ConcreteModel,
    instance: Instance,
    answer: np.ndarray,
    opts: SolverOptions,
    stats: SolveStats,
    notes: list[Finding],
    stopped: bool,
) -> tuple[AllocationResult, list[Violation]]:
    """The allocation ``answer`` (an ``extract.solution`` of ``model``), reported with ``notes`` and the
    findings; its violations (if verified). ``stopped``: its score (or spend) is not proven best."""
    request = instance.request
    result = build_result(request, quantities(model, instance, answer), stats, [])
    violations = check_result(request, result) if opts.verify else []
    findings = notes + solved_findings(instance, result, stopped)
    return result.model_copy(update={"diagnostics": findings}), violations


def _stats(model: pyo.ConcreteModel, status: Status, size: ModelSize, first: SolveOutcome) -> SolveStats:
    """The figures of a result: status, model size, and stage one's gap and bound in request units."""
    money = model.spend_unit if model.instance.request.objective is Objective.MIN_COST else 1.0
    bound = None if first.bound is None else first.bound * money
    return SolveStats(status=status, seconds=0.0, size=size, gap=first.gap, bound=bound)


class _Reporter:
    """``allocate``'s ``on_provisional`` over the whole call (both tries, every stage).

    Passes on only an allocation better than the last one it passed on, and never
    lets reporting fail the solve: reporting is a courtesy to a caller that may stop
    the solve early, and the solve goes on whatever happens to it.
    """

    def __init__(self, callback: OnProvisional, began: float, after_s: float) -> None:
        self.callback = callback
        self.began = began
        self.after_s = after_s
        self.last: AllocationResult | None = None
        # The column values last made into a report: the guided solve hands stage one's restricted
        # answer on before its full run and, when that run does not improve on it, the same array
        # again as the stage's answer. Reading and checking it twice would report nothing new.
        self.read: np.ndarray | None = None

    def due(self) -> bool:
        """Whether the call has run long enough for provisional answers to be worth their cost."""
        return time.perf_counter() - self.began >= self.after_s

    def report(self, make: Callable[[], AllocationResult | None]) -> None:
        """Pass on ``make()`` (None: nothing to report) if it beats the last one passed on."""
        try:
            result = make()
            if result is not None and (self.last is None or _better_result(result, self.last)):
                self.callback(result.model_copy(update={"solve_seconds": time.perf_counter() - self.began}))
                self.last = result
        except MemoryError:
            raise
        except Exception:  # reporting never fails the solve (see the class docstring)
            log.warning("a provisional allocation could not be reported", exc_info=True)


def _better_result(a: AllocationResult, b: AllocationResult) -> bool:
    """Whether ``a`` beats ``b``: a higher score, or the same score (min_cost: none) for less."""
    if (a.coverage_score or 0.0) != (b.coverage_score or 0.0):
        return (a.coverage_score or 0.0) > (b.coverage_score or 0.0)
    return a.total_spend < b.total_spend


@dataclass(frozen=True, slots=True)
class _Provisional:
    """One try's provisional answers: read from their values, reported and checked as a final answer is.

    One that fails the check is not reported (the final answer has its own second try).
    """

    reporter: _Reporter
    model: pyo.ConcreteModel
    instance: Instance
    opts: SolverOptions
    size: ModelSize

    def send(self, outcome: SolveOutcome, first: SolveOutcome, compiled: Compiled, proven: bool) -> None:
        """Report ``outcome``'s allocation, a solution of its stage's ``compiled``.

        ``first`` is stage one's outcome, or ``outcome`` itself in stage one: gap and bound are its.
        ``proven``: the allocation's score (min_cost: its spend) is proven the best.
        Values that are not all finite are not reported (stage two would not take them).
        """
        values = outcome.values
        if values is None or values is self.reporter.read or not self.reporter.due():
            return
        if not np.all(np.isfinite(values)):
            return
        self.reporter.read = values  # (before reading: an allocation that fails to read fails again)
        self.reporter.report(lambda: self._result(first, solution(self.model, compiled, values), proven))

    def _result(self, first: SolveOutcome, answer: np.ndarray, proven: bool) -> AllocationResult | None:
        request = self.instance.request
        stats = _stats(self.model, Status.FEASIBLE, self.size, first)
        if proven:  # max_coverage's score, before or during stage two: the spend is not yet proven least
            notes, stopped = [_stage_two_note(None)], False
        else:
            notes, stopped = [_search_going_on_note(request)], True
        result, violations = _read_result(self.model, self.instance, answer, self.opts, stats, notes, stopped)
        return None if violations else result

    def stage(self, compiled: Compiled, first: SolveOutcome | None = None) -> Callable[[SolveOutcome], None]:
        """What the guided solve calls with the restricted answer of a stage (``first``: stage one's outcome)."""
        # a restricted answer of stage one proves nothing; stage two's holds stage one's score
        proven = first is not None and first.state is SolveState.OPTIMAL
        return lambda outcome: self.send(outcome, first or outcome, compiled, proven)


def _guided(compiled: Compiled, opts: SolverOptions) -> bool:
    """Whether this model is large enough for the guided solve (see solvers/guide.py)."""
    limit = opts.guide_min_integers
    return limit is not None and int(compiled.integrality.sum()) >= limit


@dataclass(frozen=True, slots=True)
class _Guide:
    """What the guided solve needs besides the model: each column's offer, the cheapest offers.

    The cheapest offers are found when a stage first needs them, once for both stages.
    """

    owners: np.ndarray
    keep: Callable[[], frozenset[int]]


def _solve(
    compiled: Compiled,
    guide: _Guide | None,
    opts: SolverOptions,
    time_left: float,
    start: np.ndarray | None,
    on_answer: Callable[[SolveOutcome], None] | None = None,
) -> SolveOutcome:
    """One stage: guided when the model is large (``guide`` given), else one HiGHS run.

    ``on_answer``: see ``solve_guided``.
    """
    if guide is None:
        return solve(compiled, opts, time_left, start=start)
    return solve_guided(compiled, guide.owners, opts, time_left, start=start, keep=guide.keep, on_answer=on_answer)


def _out_of_memory(outcome: SolveOutcome) -> bool:
    """Whether HiGHS stopped at its memory limit (its words: "Memory limit reached")."""
    return outcome.state is SolveState.LIMIT_NO_SOLUTION and "memory" in outcome.message.lower()


def stopped_finding(message: str, opts: SolverOptions) -> Finding:
    """Why there is no allocation (a limit came first): the solver's own words, and what to try."""
    advice = f"allow more than {opts.time_limit_s:g} s (options.time_limit_s) or a larger options.mip_gap"
    return Finding(
        code="stopped_without_solution",
        severity=Severity.WARNING,
        message=f"The solver stopped ({message}) before it found any allocation; {advice}.",
    )


def _stopped_note(request: AllocationRequest, stats: SolveStats, opts: SolverOptions) -> Finding:
    """Why an allocation is not proven best: the time limit ended the search first; how far off it may be."""
    if request.objective is Objective.MAX_COVERAGE:
        what = "its coverage score was proven the best"
        bound = "" if stats.bound is None else f"; no allocation can score more than {stats.bound:.6g}"
    else:
        what = "its spend was proven the least"
        bound = (
            "" if stats.bound is None else f"; none that meets every target can spend less than {money(stats.bound)}"
        )
    gap = "" if stats.gap is None else f" (gap {stats.gap:.2%})"
    return Finding(
        code="time_limit_reached",
        severity=Severity.WARNING,
        message=f"The time limit of {opts.time_limit_s:g} s ended the search before {what}{bound}{gap}. "
        "Allow a longer options.time_limit_s, or a larger options.mip_gap, for a proven answer.",
    )


def _search_going_on_note(request: AllocationRequest) -> Finding:
    """The note of a provisional answer found while the search goes on."""
    what = "coverage score" if request.objective is Objective.MAX_COVERAGE else "spend"
    return Finding(
        code="search_not_finished",
        severity=Severity.INFO,
        message=f"This allocation was found while the search went on; its {what} is not proven the best.",
    )


# Stage two's score row is tried with these slacks in turn: the first holds the score
# to float noise; the wider ones only when HiGHS calls the tight row infeasible.
STAGE_TWO_SLACKS = (SCORE_SLACK, 1e-9, 1e-7)


def _least_spend_stage(
    model: pyo.ConcreteModel,
    compiled: Compiled,
    guide: _Guide | None,
    first: SolveOutcome,
    opts: SolverOptions,
    deadline: float,
    report: _Provisional | None,
) -> tuple[SolveState, tuple[np.ndarray, SolveOutcome] | None]:
    """Stage two: least spend at the stage-one score; its state, and its allocation (and run) when it has one.

    The stage-one matrices are reused (spend was compiled with them): one row,
    SCORE_ROW_SCALE x score >= SCORE_ROW_SCALE x (score* - slack), is appended.
    Without a result, stage one's allocation stands: valid, just not the cheapest.
    """
    state = SolveState.LIMIT_NO_SOLUTION
    stage_opts = opts.for_stage_two(guided=guide is not None)
    for slack in STAGE_TWO_SLACKS:
        left = deadline - time.perf_counter()
        if left <= 0:
            state = SolveState.LIMIT_NO_SOLUTION
            break
        staged = next_stage(compiled, first.objective - slack, SCORE_ROW_SCALE)
        on_answer = None if report is None else report.stage(staged, first)
        second = _solve(staged, guide, stage_opts, left, first.values, on_answer)
        state = second.state
        if second.values is not None and np.all(np.isfinite(second.values)):
            return state, (solution(model, staged, second.values), second)
        if state is not SolveState.INFEASIBLE:
            break
    return state, None


def _stage_two_note(state: SolveState | None) -> Finding:
    """Why stage two's answer is not proven cheapest (``None``: the answer is provisional)."""
    why = {
        None: "this allocation was found before it ended",
        SolveState.LIMIT_WITH_SOLUTION: "the time limit stopped it before it was proven",
        SolveState.LIMIT_NO_SOLUTION: "the time limit came first",
        SolveState.INFEASIBLE: "the solver could not hold the best score numerically",
    }.get(state, "the solver failed")
    return Finding(
        code="least_spend_not_proven",
        severity=Severity.INFO,
        message=f"The coverage score is the best found, but the search for the cheapest allocation at "
        f"that score did not finish ({why}): spend may be higher than it needs to be.",
    )
