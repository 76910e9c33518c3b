"""``allocate``: the one entry point from a validated request to a checked result.

prepare (plain data) -> create_model (Pyomo) -> compile -> HiGHS -> extract
(snapped quantities) -> build_result (plain arithmetic) -> check_result
(independent) -> findings. ``max_coverage`` is solved lexicographically: the
best coverage score first, then the least spend that keeps that score,
warm-started from the first stage's allocation. Large models (from
``EngineTuning.guide_min_integers`` integer columns) are solved in each stage by
the guided solve of ``solvers/solve/guide.py`` instead of one HiGHS run. A caller
that may have to stop a long solve (the server's hard deadline) can ask for the
allocations found on the way, each checked, as they come (``on_provisional``).
From 40 offers, a construction heuristic (``solvers/solve/heuristic.py``) makes a valid
allocation in a fraction of a second when one is needed: when HiGHS has nothing better
than its start ``FIRST_ANSWER_S`` into the call (HiGHS then goes on from it), or when the
time limit comes before HiGHS has a better one (it is then the answer).
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
from solvers.answer.extract import quantities, solution
from solvers.budget import TimeBudget
from solvers.build.program import SCORE_ROW_SCALE, SCORE_SLACK, column_minerals, column_offers, create_model, release
from solvers.errors import SolutionRejected, SolverFailed
from solvers.prepare.instance import Instance, prepare
from solvers.report.check import Violation, check_result
from solvers.report.diagnose import diagnose
from solvers.report.result import SolveStats, build_result, empty_result, money, out_of_scale, solved_findings
from solvers.solve.blocks import Blocks, solve_blocks, split
from solvers.solve.guide import cheapest_offers, solve_guided
from solvers.solve.heuristic import Construction, construct, start_values
from solvers.solve.highs import (
    Compiled,
    SolveOutcome,
    SolveState,
    Watch,
    compile_model,
    next_stage,
    objective_at,
    solve,
)
from solvers.trace import event, phase
from solvers.tuning import EngineTuning

log = logging.getLogger("stockpile.solvers")

# Receives the checked allocations a solve finds before its final answer (see ``allocate``).
OnProvisional = Callable[[AllocationResult], None]
# One HiGHS run of a compiled model (``solvers.solve.highs.solve``'s signature).
Run = Callable[..., SolveOutcome]


def allocate(
    request: AllocationRequest,
    options: EngineTuning | None = None,
    on_provisional: OnProvisional | None = None,
    budget: TimeBudget | None = None,
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

    ``budget``, when given, is the time this call may use (a server makes it when the request
    arrives); its limit then stands for ``options.time_limit_s``. None: the options' limit,
    counted from now.

    Raises ``MemoryError`` when the model does not fit in memory: Python's, or HiGHS's
    before it has found any allocation (a worker under a memory cap answers "model too
    large"), and ``SolverError`` when HiGHS fails or an answer fails its check twice.
    """
    began = time.perf_counter()
    with _without_gc():  # first: a collection due from earlier work would land inside this call
        opts = (options or EngineTuning()).for_request(request)
        if budget is None:
            budget = TimeBudget.start(opts.time_limit_s)
        else:  # the budget's limit is the one this call's findings quote
            opts = replace(opts, time_limit_s=budget.limit_s)
        with phase("prepare"):
            instance = prepare(request)
        prepare_s = time.perf_counter() - began
        reporter = None if on_provisional is None else _Reporter(on_provisional, began, opts.provisional_after_s)
        seed = _Fallback(instance, opts, began, budget) if _construct(instance, opts) else None
        result = _solve_checked(instance, opts, budget, began, prepare_s, reporter, seed=seed)
        if result is None:  # the check failed: same model, tighter tolerances
            result = _solve_checked(
                instance, opts.tighter(), budget, began, prepare_s, reporter, last_try=True, seed=seed
            )
    assert result is not None
    return result


def solve_compiled(
    model: object,
    compiled: Compiled,
    instance: Instance,
    opts: EngineTuning,
    began: float,
    setup_began: float,
    run: Run,
    budget: TimeBudget,
    start: np.ndarray | None = None,
) -> AllocationResult:
    """``allocate``'s work on a model already compiled (``solvers.resolve``): both tries, every stage.

    ``opts`` resolved for the request (``EngineTuning.for_request``), its time limit
    ``budget``'s; ``began`` is when the call began, ``setup_began`` when its work before the
    first solve did; ``model`` is the Pyomo model or a view of it (see ``_solve_model``). The
    second try, with tighter tolerances, solves the same compiled model again.
    """
    seed = _Fallback(instance, opts, began, budget) if _construct(instance, opts) else None
    same = {"seed": seed, "compiled": compiled, "run": run, "start": start}
    result = _solve_model(model, instance, opts, budget, began, setup_began, None, False, **same)
    if result is None:  # the check failed: same model, tighter tolerances
        result = _solve_model(model, instance, opts.tighter(), budget, began, setup_began, None, True, **same)
    assert result is not None
    return result


# Time kept back for the work after the last solve, as a share of the work before the first
# (``prepare``, then building and compiling the model): all of it scales with the offers.
# At 50,000 offers reading, reporting and checking the answer and freeing the model take
# about 0.3 times the work before the first solve, and up to two thirds of it beside a HiGHS
# run left behind at the limit (docs/performance.md, "The time limit holds"): the whole of
# the work before is kept back.
POST_SOLVE_SHARE = 1.0


@contextmanager
def _without_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (process-wide) while a request is solved.

    Building makes hundreds of thousands of long-lived Pyomo objects, and every
    collection rescans all of them: about 40% of build and compile time at 10,000
    offers, and a fifth of everything outside HiGHS when reading, reporting and
    checking are counted too (docs/performance.md, "No garbage collection during a
    solve"). None of them is garbage before
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
    opts: EngineTuning,
    budget: TimeBudget,
    began: float,
    prepare_s: float,
    reporter: _Reporter | None,
    last_try: bool = False,
    seed: _Fallback | None = None,
) -> AllocationResult | None:
    # the work before this try's first solve began: prepare's time, then the build from here
    setup_began = time.perf_counter() - prepare_s
    with phase("build"):
        model = create_model(instance)
    try:
        return _solve_model(model, instance, opts, budget, began, setup_began, reporter, last_try, seed)
    finally:
        with phase("release"):
            release(model)  # freed when this returns, not at the next garbage collection


def _solve_model(
    model: pyo.ConcreteModel,
    instance: Instance,
    opts: EngineTuning,
    budget: TimeBudget,
    began: float,
    setup_began: float,
    reporter: _Reporter | None,
    last_try: bool,
    seed: _Fallback | None = None,
    compiled: Compiled | None = None,
    run: Run | None = None,
    start: np.ndarray | None = None,
) -> AllocationResult | None:
    """``_solve_checked`` from the built model on: compile, solve, read, report, check.

    ``seed``: the construction heuristic, whose allocation is the answer when HiGHS has none
    better when the time limit comes (and HiGHS's start, with ``opts.start_from_heuristic``).
    ``solvers.resolve`` passes the model's ``compiled`` form (``model`` may then be a view
    with its ``arrays``, ``columns``, ``spend_unit`` and ``instance``), the ``run`` that
    solves it in place (None: ``solvers.solve.highs.solve``), and a ``start`` for stage one
    (the last allocation, when it is valid).
    """
    request = instance.request
    if compiled is None:
        with phase("compile"):
            compiled = compile_model(model)
    event("compiled", columns=len(compiled.columns), rows=compiled.matrix.shape[0])
    guide = (
        _Guide(column_offers(model, compiled), functools.cache(lambda: cheapest_offers(instance)))
        if _guided(compiled, opts)
        else None
    )
    blocks = _split(model, compiled, instance, opts)
    block_opts = opts.for_model(request.objective, guided=False)
    opts = opts.for_model(request.objective, guided=guide is not None)
    size = ModelSize(**compiled.size)
    report = None if reporter is None else _Provisional(reporter, model, instance, opts, size)
    # Reading, reporting and checking the answer, then freeing the model, take a share of the
    # work so far: keep that back from the solver, so the whole call ends within the time limit.
    budget = budget.keep_back(min(POST_SOLVE_SHARE * (time.perf_counter() - setup_began), 0.1 * budget.limit_s))
    unreserved = budget
    # Without floors, buying nothing is feasible: hand it to HiGHS (unless a start is given)
    # so that a time limit always leaves an allocation in hand (an empty one at worst).
    trivial = np.zeros(len(compiled.columns)) if not any(md.floor > 0 for md in instance.minerals) else None
    if start is None:
        start = trivial
        # The heuristic's allocation as the start, when asked for (EngineTuning.start_from_heuristic).
        made = seed.get() if seed is not None and opts.start_from_heuristic else None
        if made is not None and made.result is not None:
            start = start_values(model, compiled, made.quantities)
            if start is None:
                start = trivial
    # The construction heuristic, when it has not run yet, runs after HiGHS if an answer needs it:
    # keep its time back too.
    if seed is not None:
        budget = unreserved.keep_back(seed.reserve())
    on_answer = None if report is None else report.stage(compiled)
    first = None
    if blocks is not None:

        def rescue() -> np.ndarray | None:  # the heuristic's allocation, for the blocks to start from
            made = None if seed is None else seed.get(mip_s=FIRST_ANSWER_MIP_S)
            return None if made is None or made.result is None else start_values(model, compiled, made.quantities)

        with phase("stage", stage=1):  # (``solve`` looked up here, when called: tests replace it)
            if guide is None:  # the whole model first, briefly: most requests are solved so, by one run
                first = solve(compiled, block_opts, min(SPLIT_AFTER_S, budget.remaining()), start=start)
            if first is None or first.state in (SolveState.LIMIT_WITH_SOLUTION, SolveState.LIMIT_NO_SOLUTION):
                start = first.values if first is not None and first.values is not None else start
                watch = _first_answer_watch(compiled, seed, budget, began, start)
                first = solve_blocks(compiled, blocks, block_opts, budget, solve, start, watch, rescue)
        if seed is not None and seed.ran:
            budget = unreserved  # (the heuristic has run: nothing to keep back for it)
    if first is None:  # not split, or the parts' answers break the budget: the whole model
        watch = _first_answer_watch(compiled, seed, budget, began, start)
        with phase("stage", stage=1):
            first = _solve(compiled, guide, opts, budget, start, on_answer, run, watch)
    if first.watched_out:
        # Nothing better than the start by FIRST_ANSWER_S: the heuristic's allocation now, as HiGHS's
        # start for the rest of the time (its reserve is no longer needed).
        assert seed is not None
        made = seed.get(mip_s=FIRST_ANSWER_MIP_S)
        if made is not None and made.result is not None:
            values = start_values(model, compiled, made.quantities)
            start = start if values is None else values
        budget = unreserved  # (the heuristic has run: nothing to keep back for it)
        with phase("stage", stage=1):
            first = _solve(compiled, guide, opts, budget, start, on_answer, run)
    if first.state is SolveState.ERROR:
        raise SolverFailed(f"HiGHS failed: {first.message}")
    made = seed.get() if seed is not None and first.state is SolveState.INFEASIBLE else None
    if made is not None and made.result is not None:
        # the heuristic's checked allocation disproves it: HiGHS's tolerances failed it
        return made.answer("it called the request infeasible, which this allocation disproves", opts, size, began)
    if first.state is SolveState.INFEASIBLE:
        findings = diagnose(instance, opts, max(budget.remaining(), 1.0), size) if opts.diagnose else []
        return empty_result(request, Status.INFEASIBLE, time.perf_counter() - began, findings, size)
    if first.values is None:
        if _out_of_memory(first):
            # HiGHS's own allocations failed before it found anything: out of memory, as when
            # Python's fail (a worker at its memory cap says "model too large" and starts afresh).
            raise MemoryError(f"HiGHS stopped before any allocation: {first.message}")
        made = seed.get() if seed is not None else None
        if made is not None and made.result is not None:
            return made.answer(first.message, opts, size, began)
        findings = [stopped_finding(first.message, opts)]
        if made is not None and made.blocked is not None:
            findings.append(_blocked_finding(made.blocked))
        return empty_result(request, Status.NO_SOLUTION, time.perf_counter() - began, findings, size)

    with phase("extract"):
        answer = solution(model, compiled, first.values)
    proven = first.state is SolveState.OPTIMAL
    stats = _stats(model, Status.OPTIMAL if proven else Status.FEASIBLE, size, first)
    notes = [] if proven else [_stopped_note(request, stats, opts)]
    # What the solver says its allocation achieves: stage one's score (min_cost: spend), stage two's spend.
    claim = _Claim(score=first.objective) if request.objective is Objective.MAX_COVERAGE else _spent(model, first)
    if request.objective is Objective.MAX_COVERAGE:
        if report is not None:
            report.send(first, first, compiled, proven)
        second, cheaper = _least_spend_stage(model, compiled, guide, first, opts, budget, report, run)
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
        if not last_try and budget.remaining() >= time.perf_counter() - setup_began:
            return None
        result = _not_as_claimed(result, short)
    made = seed.get() if seed is not None and not proven else None
    if made is not None and made.result is not None and _clearly_better(made.result, result):
        return made.answer("the time limit came before it found a better allocation", opts, size, began)
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
    opts: EngineTuning,
    stats: SolveStats,
    notes: list[Finding],
    stopped: bool,
) -> tuple[AllocationResult, list[Violation]]:
    """The allocation ``answer`` (an ``extract.solution`` of ``model``), reported with ``notes`` and the
    findings; its violations (if verified). ``stopped``: its score (or spend) is not proven best."""
    request = instance.request
    with phase("extract"):
        bought = quantities(model, instance, answer)
    with phase("report"):
        result = build_result(request, bought, stats, [])
    with phase("check"):
        violations = check_result(request, result) if opts.verify else []
    with phase("report"):
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
    opts: EngineTuning
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


# Under min_cost, a model below the guided size is solved whole for this long (s) before it is split
# by mineral: most are solved by then, by one HiGHS run, which costs less outside HiGHS than a run
# a part. A guided model is split at once: the guided solve's LP alone takes longer.
SPLIT_AFTER_S = 0.25


def _split(model: pyo.ConcreteModel, compiled: Compiled, instance: Instance, opts: EngineTuning) -> Blocks | None:
    """The model's parts by mineral, to be solved one by one (``EngineTuning.split_by_mineral``), or None.

    Under ``min_cost`` only, where the budget, the one row joining the minerals, seldom binds;
    and only when no part alone is large enough for the guided solve.
    """
    if not opts.split_by_mineral or instance.request.objective is not Objective.MIN_COST:
        return None
    blocks = split(compiled, column_minerals(model, compiled))
    limit = opts.guide_min_integers
    if blocks is None or (limit is not None and any(compiled.integrality[c].sum() >= limit for c in blocks.columns)):
        return None
    return blocks


def _guided(compiled: Compiled, opts: EngineTuning) -> bool:
    """Whether this model is large enough for the guided solve (see solvers/solve/guide.py)."""
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
    opts: EngineTuning,
    budget: TimeBudget,
    start: np.ndarray | None,
    on_answer: Callable[[SolveOutcome], None] | None = None,
    run: Run | None = None,
    watch: Watch | None = None,
) -> SolveOutcome:
    """One stage: guided when the model is large (``guide`` given), else one HiGHS run (``run``)
    with the time ``budget`` has left, stopped by ``watch`` if it finds nothing by then.

    ``on_answer``: see ``solve_guided``.
    """
    if guide is None:  # (``solve`` looked up here, when called: tests replace it)
        return (run or solve)(compiled, opts, budget.remaining(), start=start, watch=watch)
    return solve_guided(
        compiled, guide.owners, opts, budget, start=start, keep=guide.keep, on_answer=on_answer, watch=watch
    )


# A request with the construction heuristic (EngineTuning.construct) holds a valid allocation this
# long after its call began: HiGHS is stopped then if it has found nothing better than its start,
# the heuristic's allocation is made (its per-mineral MIPs given FIRST_ANSWER_MIP_S each) and HiGHS
# goes on from it. A run that has an allocation by then, or ends before, is left alone.
FIRST_ANSWER_S = 0.5
FIRST_ANSWER_MIP_S = 0.1


def _first_answer_watch(
    compiled: Compiled,
    seed: _Fallback | None,
    budget: TimeBudget,
    began: float,
    start: np.ndarray | None,
) -> Watch | None:
    """The watch on stage one's HiGHS run (``FIRST_ANSWER_S``), or None where it does not apply.

    A guided solve's runs are each watched from FIRST_ANSWER_S after their own start at the
    earliest (a large model's LP relaxation may take longer than that). Not once the heuristic
    has run (a second try), nor when the call's time ends before the watch would (the heuristic
    then runs at the limit).
    """
    at = began + FIRST_ANSWER_S
    if seed is None or seed.ran or not compiled.integrality.any():
        return None
    if time.perf_counter() + budget.remaining() <= at:
        return None
    trivial = None if start is None else objective_at(compiled, start)
    return Watch(at, trivial, least_s=FIRST_ANSWER_S)


def _out_of_memory(outcome: SolveOutcome) -> bool:
    """Whether HiGHS stopped at its memory limit (its words: "Memory limit reached")."""
    return outcome.state is SolveState.LIMIT_NO_SOLUTION and "memory" in outcome.message.lower()


def stopped_finding(message: str, opts: EngineTuning) -> Finding:
    """Why there is no allocation (a limit came first): the solver's own words, and what to try."""
    advice = f"allow more than {opts.time_limit_s:g} s (options.time_limit_s) or a larger options.mip_gap"
    return Finding(
        code="stopped_without_solution",
        severity=Severity.WARNING,
        message=f"The solver stopped ({message}) before it found any allocation; {advice}.",
    )


def _stopped_note(request: AllocationRequest, stats: SolveStats, opts: EngineTuning) -> Finding:
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
    opts: EngineTuning,
    budget: TimeBudget,
    report: _Provisional | None,
    run: Run | None = None,
) -> tuple[SolveState, tuple[np.ndarray, SolveOutcome] | None]:
    """Stage two: least spend at the stage-one score; its state, and its allocation (and run) when it has one.

    The stage-one matrices are reused (spend was compiled with them): one row,
    SCORE_ROW_SCALE x score >= SCORE_ROW_SCALE x (score* - slack), is appended.
    Without a result, stage one's allocation stands: valid, just not the cheapest.
    """
    state = SolveState.LIMIT_NO_SOLUTION
    stage_opts = opts.for_stage_two(guided=guide is not None)
    for slack in STAGE_TWO_SLACKS:
        if budget.expired():
            state = SolveState.LIMIT_NO_SOLUTION
            break
        staged = next_stage(compiled, first.objective - slack, SCORE_ROW_SCALE)
        on_answer = None if report is None else report.stage(staged, first)
        with phase("stage", stage=2):
            second = _solve(staged, guide, stage_opts, budget, first.values, on_answer, run)
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


@dataclass(frozen=True, slots=True)
class _Seed:
    """The construction heuristic's allocation (``solvers/solve/heuristic.py``), checked; or why there is none."""

    quantities: list[float]
    result: AllocationResult | None  # checked, status feasible; None: the heuristic found nothing valid
    blocked: str | None  # the rule that kept the heuristic from any allocation
    seconds: float  # from the call's start to the heuristic's allocation

    @classmethod
    def of(cls, instance: Instance, opts: EngineTuning, began: float, mip_s: float | None = None) -> _Seed | None:
        """The heuristic's allocation of ``instance``; None when the heuristic fails (it never fails the solve).

        ``opts.time_limit_s``: the call's limit (its budget's), which bounds the heuristic's own MIPs.
        """
        request = instance.request
        try:
            made: Construction = construct(instance, opts.time_limit_s, mip_s=mip_s)
        except MemoryError:
            raise
        except Exception:  # a start is a courtesy: the solve goes on without one
            log.warning("the construction heuristic failed", exc_info=True)
            return None
        seconds = time.perf_counter() - began
        if made.quantities is None:
            return cls([], None, made.blocked, seconds)
        empty = ModelSize(variables=0, binaries=0, integers=0, constraints=0)
        result = build_result(request, made.quantities, SolveStats(Status.FEASIBLE, seconds, empty), [])
        violations = check_result(request, result)
        if violations:  # never returned; logged, as it is the heuristic's fault
            log.warning("the construction heuristic broke a rule: %s", violations[0])
            return cls([], None, None, seconds)
        return cls(made.quantities, result, None, seconds)

    def answer(self, why: str, opts: EngineTuning, size: ModelSize, began: float) -> AllocationResult:
        """The heuristic's allocation as the answer: valid, not proven best."""
        assert self.result is not None
        what = "coverage score" if self.result.objective is Objective.MAX_COVERAGE else "spend"
        finding = Finding(
            code="heuristic_allocation",
            severity=Severity.WARNING,
            message=f"This allocation is the construction heuristic's (found in {self.seconds:.2f} s): it passes "
            f"every rule, but the solver stopped ({why}) before it found a better one, so its {what} is not "
            f"proven the best. Allow more than {opts.time_limit_s:g} s (options.time_limit_s) for a better one.",
        )
        return self.result.model_copy(
            update={
                "status": Status.FEASIBLE,
                "model": size,
                "diagnostics": [finding],
                "solve_seconds": time.perf_counter() - began,
            }
        )


# The time kept back from HiGHS for the construction heuristic, which runs after it when an answer
# needs it: its greedy part takes a few hundred ms at most; its per-mineral MIPs get half of what is left.
FALLBACK_RESERVE_S = 1.0
FALLBACK_RESERVE_SHARE = 0.06


def heuristic_reserve(limit_s: float) -> float:
    """The time kept back from HiGHS for the heuristic in a call limited to ``limit_s``."""
    return min(FALLBACK_RESERVE_S, FALLBACK_RESERVE_SHARE * limit_s)


def heuristic_mip_time(left_s: float) -> float:
    """What the heuristic's per-mineral MIPs get when ``left_s`` of the call is left: half, 0.05 s at least."""
    return max(0.05, 0.5 * left_s)


class _Fallback:
    """The construction heuristic of one ``allocate`` call, run at most once and only when an answer needs
    it: when HiGHS stops at its limit with nothing or with less, or calls the request infeasible. A request
    HiGHS solves within its limit pays nothing for it."""

    def __init__(self, instance: Instance, opts: EngineTuning, began: float, budget: TimeBudget) -> None:
        self.instance, self.opts, self.began, self.budget = instance, opts, began, budget
        self._made: _Seed | None = None
        self._done = False

    @property
    def ran(self) -> bool:
        return self._done

    def reserve(self) -> float:
        """The time to keep back for running the heuristic later (none once it has run)."""
        return 0.0 if self._done else heuristic_reserve(self.budget.limit_s)

    def get(self, mip_s: float | None = None) -> _Seed | None:
        """The heuristic's allocation, made on the first call; its MIPs get ``mip_s`` each (None: half
        of what is left of the call, ``heuristic_mip_time``)."""
        if not self._done:
            with phase("heuristic"):
                # the call's whole budget, not what was kept back from HiGHS for this
                if mip_s is None:
                    mip_s = heuristic_mip_time(self.budget.remaining())
                self._made = _Seed.of(self.instance, self.opts, self.began, mip_s=mip_s)
            self._done = True
        return self._made


def _construct(instance: Instance, opts: EngineTuning) -> bool:
    """Whether the construction heuristic runs on ``instance`` (see ``EngineTuning.construct``)."""
    return opts.construct and len(instance.request.suppliers) >= opts.construct_min_offers


def _clearly_better(a: AllocationResult, b: AllocationResult) -> bool:
    """Whether ``a`` beats ``b`` by more than reading back an allocation moves it (CLAIM_TOLERANCE)."""
    score_a, score_b = a.coverage_score or 0.0, b.coverage_score or 0.0
    if abs(score_a - score_b) > CLAIM_TOLERANCE:
        return score_a > score_b
    return a.total_spend < b.total_spend * (1 - CLAIM_TOLERANCE)


def _blocked_finding(blocked: str) -> Finding:
    """What kept the construction heuristic from any allocation."""
    return Finding(
        code="heuristic_blocked",
        severity=Severity.INFO,
        message=f"The construction heuristic found no valid allocation either; what stood in its way: {blocked}.",
    )
