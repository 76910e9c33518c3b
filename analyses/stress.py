"""Disruption stress tests: how a purchase plan holds up when supply fails, over many random draws.

A draw of a disruption model is a list of ordinary changes (``models.disruptions``).
Draw i's random numbers depend only on the seed and i: draws come in fixed blocks of
``BLOCK`` (block b's generator is ``SeedSequence([seed, b])``, and draw i is row
``i % BLOCK`` of block ``i // BLOCK``), so any chunking on any number of workers gives
the same draws, bit for bit.

Two modes:

* ``hold``: the plan is bought before the disruption; what failed offers were to deliver
  is lost (their money is not spent) and prices are locked. Plain arithmetic, vectorised
  over a block of draws at a time.
* ``replan``: the disruption is known before buying; each draw's changed request is solved
  (same budget and policy) by an executor (in this process or on Dask), each worker
  preparing the base once per chunk and re-solving in place (``analyses.execution``). A
  draw whose solve finds no allocation scores 0.

Answers are aggregated as draws stream in: per draw only its score, spend and per-mineral
coverage are kept (numbers, never results), so memory grows with draws x minerals, not
with the offers or the results.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyses.execution import Batch, LocalExecutor, keep_result, run_batch
from models import AllocationRequest, AllocationResult, Problem
from models.changes import Applied, ExcludeCountries, ScaleCapacity, ScalePrices
from models.disruptions import (
    MAX_DRIVERS,
    WORST_DRAWS,
    DisruptionModel,
    Dist,
    DrawDetail,
    Driver,
    HoldOutcome,
    MineralRisk,
    Plan,
    ReplanOutcome,
    StressSummary,
    StressTestRequest,
    StressTestResult,
    WorstDraw,
)
from models.problems import problems_from_errors
from models.request import LARGEST, SMALLEST
from solvers import EngineTuning, check_result, result_for

# Draws per block of random numbers (fixed: it is part of what a seed means).
BLOCK = 1024
Progress = Callable[[int, int], None]


# -- the draws ----------------------------------------------------------------------------------


def _factor_range(request: AllocationRequest, minerals: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per mineral, the price factors that keep each of its unit and tier prices within SMALLEST..LARGEST.

    A lognormal factor is unbounded; a price outside the contract's range is no request at
    all (``scale_prices`` refuses it). The range always holds 1, as every price is valid;
    its ends are pulled in by 1e-12 so that price x factor is inside after rounding.
    """
    cheapest = dict.fromkeys(minerals, math.inf)
    dearest = dict.fromkeys(minerals, 0.0)
    for o in request.suppliers:
        if o.mineral in cheapest:
            prices = [o.unit_price] if o.price_tiers is None else [t.unit_price for t in o.price_tiers]
            cheapest[o.mineral] = min(cheapest[o.mineral], *prices)
            dearest[o.mineral] = max(dearest[o.mineral], *prices)
    low = np.array([SMALLEST / cheapest[m] * (1 + 1e-12) for m in minerals], dtype=float)
    high = np.array([LARGEST / dearest[m] * (1 - 1e-12) if dearest[m] > 0 else math.inf for m in minerals], dtype=float)
    return np.minimum(low, 1.0), np.maximum(high, 1.0)


@dataclass(frozen=True)
class DrawSpace:
    """The disruption model laid out over the request's offers, as arrays."""

    countries: list[str]  # the model's countries, in the model's order
    country_p: np.ndarray
    offer_ids: list[str]  # every offer of the request, in its order
    offer_country: np.ndarray  # position in ``countries``, or -1 when the country is not in the model
    offer_p: np.ndarray
    shocked: list[str]  # the minerals whose prices are shocked, in the model's order
    sigma: np.ndarray
    factor_low: np.ndarray  # per shocked mineral, the factors that keep its every price a valid one
    factor_high: np.ndarray

    @classmethod
    def of(cls, request: AllocationRequest, model: DisruptionModel) -> DrawSpace:
        countries = list(model.countries)
        where = {c: k for k, c in enumerate(countries)}
        offers = request.suppliers
        low, high = _factor_range(request, list(model.price_shocks))
        return cls(
            countries=countries,
            country_p=np.array([model.countries[c] for c in countries], dtype=float),
            offer_ids=[o.id for o in offers],
            offer_country=np.array([where.get(o.country, -1) for o in offers], dtype=np.int64),
            offer_p=np.array([model.suppliers.get(o.id, model.supplier_failure) for o in offers], dtype=float),
            shocked=list(model.price_shocks),
            sigma=np.array(list(model.price_shocks.values()), dtype=float),
            factor_low=low,
            factor_high=high,
        )

    def block(self, seed: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block b's draws: (countries cut, BLOCK x C), (offers failed, BLOCK x O), (price factors, BLOCK x S)."""
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, b])))
        cut = rng.random((BLOCK, len(self.countries))) < self.country_p
        failed = rng.random((BLOCK, len(self.offer_ids))) < self.offer_p
        z = rng.standard_normal((BLOCK, len(self.shocked)))
        # lognormal, mean 1, held where every price stays within the contract's range
        factors = np.clip(np.exp(self.sigma * z - self.sigma**2 / 2), self.factor_low, self.factor_high)
        return cut, failed, factors

    def draws(self, seed: int, start: int, stop: int) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """(first index, cut, failed, factors) for draws start..stop-1, a block (or part of one) at a time."""
        b = start // BLOCK
        while b * BLOCK < stop:
            cut, failed, factors = self.block(seed, b)
            lo, hi = max(start, b * BLOCK) - b * BLOCK, min(stop, (b + 1) * BLOCK) - b * BLOCK
            yield b * BLOCK + lo, cut[lo:hi], failed[lo:hi], factors[lo:hi]
            b += 1

    def changes(self, cut: np.ndarray, failed: np.ndarray, factors: np.ndarray) -> list[Any]:
        """One draw (a row of each) as the changes that apply it, in the contract's order."""
        out: list[Any] = [
            ScalePrices(op="scale_prices", mineral=m, factor=float(f))
            for m, f in zip(self.shocked, factors.tolist(), strict=True)
        ]
        gone = [c for c, hit in zip(self.countries, cut.tolist(), strict=True) if hit]
        if gone:
            out.append(ExcludeCountries(op="exclude_countries", countries=gone))
        out += [
            ScaleCapacity(op="scale_capacity", supplier=self.offer_ids[i], factor=0.0) for i in np.flatnonzero(failed)
        ]
        return out

    def draw_changes(self, seed: int, start: int, stop: int) -> list[list[Any]]:
        out = []
        for _, cut, failed, factors in self.draws(seed, start, stop):
            out += [self.changes(cut[r], failed[r], factors[r]) for r in range(len(cut))]
        return out

    def alive(self, cut: np.ndarray, failed: np.ndarray) -> np.ndarray:
        """Whether each offer delivers in each draw (rows: draws)."""
        country_cut = np.zeros((len(cut), len(self.offer_ids)), dtype=bool)
        listed = self.offer_country >= 0
        country_cut[:, listed] = cut[:, self.offer_country[listed]]
        return ~(failed | country_cut)

    def events(self, cut: np.ndarray, failed: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The names of the events that can happen, and which happened in each draw."""
        possible = np.flatnonzero(self.offer_p > 0)
        names = [f"country {c}" for c in self.countries] + [f"supplier {self.offer_ids[i]}" for i in possible]
        return names, np.concatenate([cut, failed[:, possible]], axis=1)


# -- hold mode ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scorer:
    """Coverage of each mineral and the coverage score of delivered quantities, vectorised."""

    mineral_ids: list[str]
    target: np.ndarray
    weight: np.ndarray
    offer_mineral: np.ndarray

    @classmethod
    def of(cls, request: AllocationRequest) -> Scorer:
        where = {m.id: j for j, m in enumerate(request.minerals)}
        return cls(
            mineral_ids=list(where),
            target=np.array([m.target for m in request.minerals], dtype=float),
            weight=np.array([m.weight for m in request.minerals], dtype=float),
            offer_mineral=np.array([where[o.mineral] for o in request.suppliers], dtype=np.int64),
        )

    def hold(self, quantities: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(score per draw, coverage per draw and mineral) of buying ``quantities`` when ``alive`` offers deliver."""
        bought = np.zeros((len(quantities), len(self.target)))
        bought[np.arange(len(quantities)), self.offer_mineral] = quantities
        coverage = np.minimum(1.0, (alive @ bought) / self.target)
        return coverage @ self.weight / self.weight.sum(), coverage

    def score(self, coverage: np.ndarray) -> float:
        return float(coverage @ self.weight / self.weight.sum())


def plan_quantities(request: AllocationRequest, plan: Plan | AllocationResult) -> np.ndarray:
    """What ``plan`` buys from each offer of ``request``, in the request's order."""
    position = {o.id: i for i, o in enumerate(request.suppliers)}
    out = np.zeros(len(request.suppliers))
    for line in plan.allocations:
        out[position[line.supplier_id]] += line.quantity
    return out


def plan_result(request: AllocationRequest, quantities: np.ndarray) -> AllocationResult:
    """The result buying ``quantities`` would be, every figure by plain arithmetic."""
    return result_for(request, quantities.tolist())


def plan_problems(request: AllocationRequest, plan: Plan) -> list[Problem]:
    """How ``plan`` breaks ``request``'s rules (capacity, lots, minimum orders, budget, policy), by path.

    Checked by the engine's independent checker on the result the plan would be; a
    plan may cover less than the targets (the rule of ``min_cost`` requests is not applied).
    """
    result = plan_result(request, plan_quantities(request, plan))
    line_of = {line.supplier_id: k for k, line in enumerate(plan.allocations)}
    errors = []
    for v in check_result(request, result):
        if v.rule in ("target", "summary"):
            continue
        offer_id = v.where.removeprefix("allocation ") if v.where.startswith("allocation ") else None
        if offer_id in line_of:
            loc: tuple[Any, ...] = ("plan", "allocations", line_of[offer_id], "quantity")
        else:
            loc = ("plan", "allocations")
        errors.append({"type": v.rule, "loc": loc, "msg": f"{v.where}: {v.message}"})
    return problems_from_errors(errors)


# -- replan mode --------------------------------------------------------------------------------


def replan_summary(result: AllocationResult, applied: Applied) -> tuple[str, float, float, tuple[float, ...]] | None:
    """A replan draw's few numbers: (status, coverage score, spend, coverage per mineral); None if not started."""
    if any(f.code == "deadline_exceeded" for f in result.diagnostics) and not result.status.has_allocation:
        return None
    request = applied.request
    coverage = {m.id: m.coverage for m in result.minerals}
    covered = tuple(coverage.get(m.id, 0.0) for m in request.minerals)
    weight = sum(m.weight for m in request.minerals)
    score = sum(m.weight * c for m, c in zip(request.minerals, covered, strict=True)) / weight
    return str(result.status), score, result.total_spend, covered


# -- aggregation --------------------------------------------------------------------------------

QUANTILES = (5, 25, 50, 75, 95)


def dist(values: np.ndarray) -> Dist:
    if len(values) == 0:
        return Dist(
            mean=math.nan,
            p5=math.nan,
            p25=math.nan,
            p50=math.nan,
            p75=math.nan,
            p95=math.nan,
            min=math.nan,
            max=math.nan,
        )
    q = np.percentile(values, QUANTILES)
    return Dist(
        mean=float(values.mean()),
        p5=float(q[0]),
        p25=float(q[1]),
        p50=float(q[2]),
        p75=float(q[3]),
        p95=float(q[4]),
        min=float(values.min()),
        max=float(values.max()),
    )


class Tally:
    """One mode's per-draw numbers, filled as draws come in (any order), summarised at the end."""

    def __init__(self, draws: int, minerals: int, spend: bool) -> None:
        self.done = np.zeros(draws, dtype=bool)
        self.score = np.zeros(draws)
        self.coverage = np.zeros((draws, minerals))
        self.spend = np.zeros(draws) if spend else None
        self.status: list[str] | None = [""] * draws if spend else None

    def put(self, start: int, score: np.ndarray, coverage: np.ndarray) -> None:
        stop = start + len(score)
        self.done[start:stop] = True
        self.score[start:stop] = score
        self.coverage[start:stop] = coverage

    def put_replan(self, index: int, row: tuple[str, float, float, tuple[float, ...]]) -> None:
        assert self.spend is not None and self.status is not None
        status, score, spend, coverage = row
        self.done[index] = True
        self.score[index] = score
        self.spend[index] = spend
        self.coverage[index] = coverage
        self.status[index] = status

    @property
    def count(self) -> int:
        return int(self.done.sum())

    def summary(self, base: float, scorer: Scorer, space: DrawSpace, seed: int, draws: int) -> StressSummary:
        done = self.done
        score = self.score[done]
        coverage = self.coverage[done]
        minerals = [
            MineralRisk(
                id=mineral_id,
                coverage=dist(coverage[:, j]),
                p_below_50=float((coverage[:, j] < 0.5).mean()) if len(coverage) else math.nan,
                p_below_90=float((coverage[:, j] < 0.9).mean()) if len(coverage) else math.nan,
            )
            for j, mineral_id in enumerate(scorer.mineral_ids)
        ]
        statuses = None
        if self.status is not None:
            statuses = {}
            for s, d in zip(self.status, done.tolist(), strict=True):
                if d:
                    statuses[s] = statuses.get(s, 0) + 1
        return StressSummary(
            draws=int(done.sum()),
            base_coverage_score=base,
            coverage_score=dist(score),
            total_spend=None if self.spend is None else dist(self.spend[done]),
            statuses=statuses,
            minerals=minerals,
            drivers=self._drivers(base, space, seed, draws),
            worst=self._worst(space, seed),
        )

    def _drivers(self, base: float, space: DrawSpace, seed: int, draws: int) -> list[Driver]:
        names: list[str] = []
        count = total_loss = None
        for start, cut, failed, _ in space.draws(seed, 0, draws):
            names, happened = space.events(cut, failed)
            rows = slice(start, start + len(cut))
            done = self.done[rows]
            loss = base - self.score[rows]
            hits = happened[done]
            if count is None:
                count, total_loss = np.zeros(hits.shape[1]), np.zeros(hits.shape[1])
            count += hits.sum(axis=0)
            total_loss += loss[done] @ hits
        n = self.count
        if count is None or n == 0:
            return []
        drivers = [
            Driver(event=name, frequency=float(c / n), mean_score_loss=float(t / c))
            for name, c, t in zip(names, count.tolist(), total_loss.tolist(), strict=True)
            if c > 0
        ]
        drivers.sort(key=lambda d: (-d.frequency * d.mean_score_loss, d.event))
        return drivers[:MAX_DRIVERS]

    def _worst(self, space: DrawSpace, seed: int) -> list[WorstDraw]:
        indices = np.flatnonzero(self.done)
        lowest = heapq.nsmallest(WORST_DRAWS, zip(self.score[indices].tolist(), indices.tolist(), strict=True))
        return [WorstDraw(index=i, changes=space.draw_changes(seed, i, i + 1)[0], coverage_score=s) for s, i in lowest]


# -- the test -----------------------------------------------------------------------------------


@dataclass
class Control:
    """What a running test reports and listens to: draws done, and a cancel flag."""

    total: int = 0
    done: int = 0
    cancel: threading.Event | None = None
    on_progress: Progress | None = None

    def __post_init__(self) -> None:
        if self.cancel is None:
            self.cancel = threading.Event()

    def advance(self, n: int) -> None:
        self.done += n
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    @property
    def cancelled(self) -> bool:
        assert self.cancel is not None
        return self.cancel.is_set()


def chunk_size(draws: int) -> int:
    """Draws per replan task: 10 to 100, about 64 tasks a test; a function of the draws alone.

    Within a task, each draw's solve starts from the one before (the in-place re-solve),
    and a solve within the gap may depend on where it starts: tasks cut the same way
    whatever the workers keep the answer the same on one worker or a hundred.
    """
    return min(100, max(10, math.ceil(draws / 64)))


def solve_base(request: AllocationRequest, executor: Any, options: EngineTuning) -> AllocationResult:
    """The request's own optimal allocation, solved where the executor solves."""
    batch = Batch(request, [[]], options, None, keep_result)
    if isinstance(executor, LocalExecutor):
        return run_batch(batch)[0][0]
    return executor.run([batch])[0][0][0]


def stress_test(
    test: StressTestRequest,
    executor: Any = None,
    options: EngineTuning | None = None,
    time_limit_s: float | None = None,
    control: Control | None = None,
    base: AllocationResult | None = None,
    samples: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> StressTestResult:
    """Run ``test``: hold, replan or both, over its draws; stops at ``time_limit_s`` or when cancelled.

    ``base``, the request's optimal allocation, is solved here when the test needs it
    and it is not given. ``samples``, when given, receives each mode's per-draw scores
    and coverages (draws done only), for charts.
    """
    executor = executor or LocalExecutor()
    options = options or EngineTuning()
    control = control or Control()
    began = time.time()
    deadline = None if time_limit_s is None else began + time_limit_s
    request = test.request
    space = DrawSpace.of(request, test.disruptions)
    scorer = Scorer.of(request)
    modes = ("hold", "replan") if test.mode == "both" else (test.mode,)
    control.total = test.draws * len(modes)
    if base is None and (test.plan == "optimal" or "replan" in modes):
        base = solve_base(request, executor, options)
    hold = replan = None
    if "hold" in modes:
        quantities = plan_quantities(request, base if test.plan == "optimal" else test.plan)  # type: ignore[arg-type]
        hold = run_hold(space, scorer, quantities, test.seed, test.draws, deadline, control)
    if "replan" in modes:
        replan = run_replan(request, space, scorer, test.seed, test.draws, executor, options, deadline, control)
    if samples is not None:
        for mode, tally in (("hold", hold[0] if hold else None), ("replan", replan)):
            if tally is not None:
                samples[mode] = (tally.score[tally.done], tally.coverage[tally.done])
    return answer(test, space, scorer, base, hold, replan)


def run_hold(
    space: DrawSpace,
    scorer: Scorer,
    quantities: np.ndarray,
    seed: int,
    draws: int,
    deadline: float | None,
    control: Control,
) -> tuple[Tally, float]:
    """Hold mode over every draw, a block at a time: the tally and the undisrupted score."""
    tally = Tally(draws, len(scorer.target), spend=False)
    for start, cut, failed, _ in space.draws(seed, 0, draws):
        if control.cancelled or (deadline is not None and time.time() > deadline):
            break
        score, coverage = scorer.hold(quantities, space.alive(cut, failed))
        tally.put(start, score, coverage)
        control.advance(len(cut))
    everything = np.ones((1, len(quantities)), dtype=bool)
    return tally, float(scorer.hold(quantities, everything)[0][0])


def run_replan(
    request: AllocationRequest,
    space: DrawSpace,
    scorer: Scorer,
    seed: int,
    draws: int,
    executor: Any,
    options: EngineTuning,
    deadline: float | None,
    control: Control,
) -> Tally:
    """Replan mode: each draw's changed request solved by ``executor``, in chunks streamed as they finish."""
    tally = Tally(draws, len(scorer.target), spend=True)
    size = chunk_size(draws)
    starts = list(range(0, draws, size))

    def batches() -> Iterator[Batch]:
        for start in starts:
            if deadline is not None and time.time() > deadline:
                return  # (draws not started are not solved: their chunks are not even made)
            items = space.draw_changes(seed, start, min(draws, start + size))
            yield Batch(request, items, options, deadline, replan_summary)

    for k, answers in executor.stream(batches(), cancel=control.cancel):
        for offset, row in enumerate(answers):
            if row is not None:
                tally.put_replan(starts[k] + offset, row)
        control.advance(len(answers))
    return tally


def answer(
    test: StressTestRequest,
    space: DrawSpace,
    scorer: Scorer,
    base: AllocationResult | None,
    hold: tuple[Tally, float] | None,
    replan: Tally | None,
) -> StressTestResult:
    counts = [t.count for t in ((hold[0] if hold else None), replan) if t is not None]
    done = min(counts) if counts else 0
    hold_summary = replan_summary_ = None  # (a summary is over the draws done: none without one)
    if hold is not None and hold[0].count:
        hold_summary = hold[0].summary(hold[1], scorer, space, test.seed, test.draws)
    if replan is not None and replan.count:
        assert base is not None
        base_score = scorer.score(np.array([m.coverage for m in base.minerals]))
        replan_summary_ = replan.summary(base_score, scorer, space, test.seed, test.draws)
    flexibility = None
    if hold_summary is not None and replan_summary_ is not None:
        flexibility = replan_summary_.coverage_score.mean - hold_summary.coverage_score.mean
    complete = done == test.draws
    details = draw_details(test, space, hold, replan) if test.details else None
    message = None
    if not complete and done == 0:
        message = (
            f"None of the {test.draws:,} draws was done before the time limit (or a cancel) came, "
            "so there are no figures; allow more time or ask for fewer draws."
        )
    elif not complete:
        message = (
            f"{done:,} of {test.draws:,} draws were done before the time limit (or a cancel) came; "
            "the figures are over the draws done."
        )
    return StressTestResult(
        draws=test.draws,
        seed=test.seed,
        done=done,
        complete=complete,
        message=message,
        hold=hold_summary,
        replan=replan_summary_,
        value_of_flexibility=flexibility,
        draw_details=details,
    )


def draw_details(
    test: StressTestRequest, space: DrawSpace, hold: tuple[Tally, float] | None, replan: Tally | None
) -> list[DrawDetail]:
    out = []
    for i, changes in enumerate(space.draw_changes(test.seed, 0, test.draws)):
        h = r = None
        if hold is not None and hold[0].done[i]:
            h = HoldOutcome(coverage_score=float(hold[0].score[i]))
        if replan is not None and replan.done[i]:
            assert replan.status is not None and replan.spend is not None
            r = ReplanOutcome(
                status=replan.status[i], coverage_score=float(replan.score[i]), total_spend=float(replan.spend[i])
            )
        if h is None and r is None:
            continue
        out.append(DrawDetail(index=i, changes=changes, hold=h, replan=r))
    return out


def hold_scores(
    request: AllocationRequest, model: DisruptionModel, quantities: np.ndarray, seed: int, draws: int
) -> np.ndarray:
    """The hold-mode coverage score of buying ``quantities`` in each of draws 0..draws-1."""
    space, scorer = DrawSpace.of(request, model), Scorer.of(request)
    out = np.zeros(draws)
    for start, cut, failed, _ in space.draws(seed, 0, draws):
        out[start : start + len(cut)] = scorer.hold(quantities, space.alive(cut, failed))[0]
    return out


def measure_value(scores: np.ndarray, measure: str, alpha: float) -> float:
    """The mean score, or the mean of the worst ``alpha`` share of draws (CVaR, draws weighted equally)."""
    if measure == "expected":
        return float(scores.mean())
    k = len(scores)
    worst = np.sort(scores)
    whole = math.floor(alpha * k)
    part = alpha * k - whole
    total = worst[:whole].sum() + (part * worst[whole] if whole < k else 0.0)
    return float(total / (alpha * k))


def replan_rows(
    request: AllocationRequest, items: Sequence[Sequence[Any]], options: EngineTuning | None = None
) -> list[Any]:
    """Replan summaries of ``items`` solved in this process (tests and the command line use it)."""
    return run_batch(Batch(request, items, options or EngineTuning(), None, replan_summary))
