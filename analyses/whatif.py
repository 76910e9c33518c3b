"""What-if analyses: scenario comparisons, budget frontiers and the price of each policy rule.

Each analysis is a list of change lists applied to one base request, solved through an
``Executor`` (in this process, or on Dask): every answer is an ordinary, checked
``AllocationResult`` of its own changed request, so each figure here equals a fresh solve
of that request.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from analyses.execution import Executor, LocalExecutor, batches_for
from models import AllocationRequest, AllocationResult, Objective, Status
from models.analyses import (
    BASE_SCENARIO,
    ComparisonRequest,
    ComparisonResult,
    Delta,
    FrontierPoint,
    FrontierRequest,
    FrontierResult,
    MineralCoverage,
    MineralDelta,
    OfferChange,
    Outcome,
    PolicyCostsRequest,
    PolicyCostsResult,
    RuleCost,
    Scenario,
    UnavailableOffer,
)
from models.changes import Change, RemovedOffer, ScalePrices, SetBudget, SetMineral, SetPolicy, SetTariff
from models.request import LARGEST, SMALLEST
from solvers import EngineTuning

Progress = Callable[[int, int], None]

# An offer whose cheapest unit price is more than this over its mineral's market price has a
# "premium" rule in the policy costs: what paying market price there would change.
PREMIUM_THRESHOLD = 0.20
# The budget step of the marginal value, and the unit it is given per.
MARGINAL_STEP = 1e6


def _solve_all(
    base: AllocationRequest,
    items: Sequence[Sequence[Any]],
    executor: Executor | None,
    options: EngineTuning | None,
    deadline: float | None,
    on_progress: Progress | None,
) -> list[tuple[AllocationResult, list[RemovedOffer]]]:
    executor = executor or LocalExecutor()
    batches = batches_for(base, items, executor, options or EngineTuning(), deadline)
    return [item for batch in executor.run(batches, on_progress) for item in batch]


# -- comparisons ------------------------------------------------------------------------------


def compare(
    comparison: ComparisonRequest,
    executor: Executor | None = None,
    options: EngineTuning | None = None,
    deadline: float | None = None,
    on_progress: Progress | None = None,
) -> ComparisonResult:
    """The base and every variant solved, each variant with its delta against the base."""
    variants = [(BASE_SCENARIO, [])] + [(v.name, list(v.changes)) for v in comparison.variants]
    answers = _solve_all(comparison.request, [c for _, c in variants], executor, options, deadline, on_progress)
    requests = comparison.request
    base_result = answers[0][0]
    base_premium = premium_over_market(requests, base_result)
    scenarios = []
    for (name, changes), (result, removed) in zip(variants, answers, strict=True):
        premium = premium_over_market(requests, result)
        scenarios.append(
            Scenario(
                name=name,
                changes=changes,
                result=result,
                premium_over_market=premium,
                unavailable_offers=[UnavailableOffer(supplier_id=r.supplier_id, reason=r.reason) for r in removed],
                delta=None
                if name == BASE_SCENARIO and not changes
                else delta(requests, base_result, result, base_premium),
            )
        )
    return ComparisonResult(scenarios=scenarios)


def premium_over_market(request: AllocationRequest, result: AllocationResult) -> float:
    """What ``result`` spends over market price on offers of minerals that have one (tariffs and fixed costs in)."""
    market = {m.id: m.market_price for m in request.minerals if m.market_price is not None}
    return sum(
        line.spend - line.quantity * market[line.mineral] for line in result.allocations if line.mineral in market
    )


def _by_country(result: AllocationResult) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for line in result.allocations:
        out[line.country] += line.spend
    return out


def delta(
    request: AllocationRequest, base: AllocationResult, other: AllocationResult, base_premium: float | None = None
) -> Delta:
    """``other`` against ``base``: each figure is other's minus base's (``base_premium``: base's premium over
    market, when the caller has it already)."""
    if base_premium is None:
        base_premium = premium_over_market(request, base)
    score = (
        None
        if base.coverage_score is None or other.coverage_score is None
        else other.coverage_score - base.coverage_score
    )
    before = {m.id: m for m in base.minerals}
    after = {m.id: m for m in other.minerals}
    minerals = []
    for mineral_id in list(before) + [k for k in after if k not in before]:
        b, a = before.get(mineral_id), after.get(mineral_id)
        minerals.append(
            MineralDelta(
                id=mineral_id,
                coverage=(a.coverage if a else 0.0) - (b.coverage if b else 0.0),
                quantity=(a.quantity if a else 0.0) - (b.quantity if b else 0.0),
                spend=(a.spend if a else 0.0) - (b.spend if b else 0.0),
            )
        )
    spend_before, spend_after = _by_country(base), _by_country(other)
    countries = sorted(set(spend_before) | set(spend_after))
    by_country = {c: spend_after.get(c, 0.0) - spend_before.get(c, 0.0) for c in countries}
    lines_before = {line.supplier_id: line for line in base.allocations}
    lines_after = {line.supplier_id: line for line in other.allocations}
    offers = []
    for supplier_id in list(lines_before) + [k for k in lines_after if k not in lines_before]:
        b, a = lines_before.get(supplier_id), lines_after.get(supplier_id)
        qb, qa = (b.quantity if b else 0.0), (a.quantity if a else 0.0)
        if abs(qa - qb) > 1e-9 * max(1.0, abs(qa), abs(qb)):
            line = a or b
            assert line is not None
            offers.append(
                OfferChange(
                    supplier_id=supplier_id, mineral=line.mineral, base_quantity=qb, quantity=qa, change=qa - qb
                )
            )
    return Delta(
        coverage_score=score,
        total_spend=other.total_spend - base.total_spend,
        premium_over_market=premium_over_market(request, other) - base_premium,
        minerals=minerals,
        spend_by_country={c: v for c, v in by_country.items() if v != 0.0},
        offers=offers,
    )


# -- frontiers --------------------------------------------------------------------------------


def frontier(
    request: FrontierRequest,
    executor: Executor | None = None,
    options: EngineTuning | None = None,
    deadline: float | None = None,
    on_progress: Progress | None = None,
) -> FrontierResult:
    """The best coverage (``max_coverage``, whatever the request's objective) at each budget.

    The largest budget is solved first. When its answer is proven (``optimal``: the best score,
    and the least spend at that score), it is the answer at every budget from its spend up to
    it as well: that allocation fits those budgets, no budget below buys a better score, and
    none buys that score for less. Only the budgets below its spend are solved, in parallel.
    """
    base = request.request.model_copy(update={"objective": Objective.MAX_COVERAGE})
    budgets = request.budget_list()
    total = len(budgets)

    def solve(chosen: list[float], done: int) -> list[AllocationResult]:
        progress = None if on_progress is None else (lambda k, _n: on_progress(done + k, total))
        items = [[SetBudget(op="set_budget", value=b)] for b in chosen]
        return [r for r, _ in _solve_all(base, items, executor, options, deadline, progress)]

    (top,) = solve(budgets[-1:], 0)
    by_budget = {budgets[-1]: top}
    if top.status is Status.OPTIMAL:
        by_budget |= {b: top for b in budgets[:-1] if b >= top.total_spend}
    rest = [b for b in budgets if b not in by_budget]
    if on_progress is not None:
        on_progress(len(by_budget), total)
    if rest:
        by_budget |= dict(zip(rest, solve(rest, len(by_budget)), strict=True))
    answers = [(by_budget[b], None) for b in budgets]
    points = [
        FrontierPoint(
            budget=b,
            status=result.status,
            coverage_score=result.coverage_score,
            total_spend=result.total_spend,
            minerals=[MineralCoverage(id=m.id, coverage=m.coverage) for m in result.minerals],
        )
        for b, (result, _) in zip(budgets, answers, strict=True)
    ]
    return FrontierResult(points=points, knees=knees(points))


# A knee is a budget where the slope (coverage per dollar) drops by at least this share of the
# frontier's steepest slope; the largest drops come first, at most MAX_KNEES of them.
KNEE_DROP = 0.15
MAX_KNEES = 3


def knees(points: Sequence[FrontierPoint]) -> list[float]:
    """Budgets past which the coverage bought per extra dollar drops most (largest drops first)."""
    scored = [(p.budget, p.coverage_score) for p in points if p.coverage_score is not None and p.status.has_allocation]
    if len(scored) < 3:
        return []
    slopes = [(s1 - s0) / (b1 - b0) for (b0, s0), (b1, s1) in itertools.pairwise(scored)]
    steepest = max(slopes)
    if steepest <= 0:
        return []
    drops = [(slopes[k - 1] - slopes[k], scored[k][0]) for k in range(1, len(slopes))]
    found = []
    for k, (drop, budget) in enumerate(drops):
        before = drops[k - 1][0] if k > 0 else float("-inf")
        after = drops[k + 1][0] if k + 1 < len(drops) else float("-inf")
        if drop >= KNEE_DROP * steepest and drop >= before and drop > after:
            found.append((drop, budget))
    return [budget for _, budget in sorted(found, key=lambda x: -x[0])[:MAX_KNEES]]


# -- policy costs -----------------------------------------------------------------------------


def rules_in_force(request: AllocationRequest) -> list[tuple[str, str, Change]]:
    """Every rule of ``request`` that can be lifted: (key, description, the change that lifts it)."""
    policy = request.policy
    rules: list[tuple[str, str, Change]] = []
    for country, rate in policy.tariffs.items():
        rules.append(
            (
                f"tariffs.{country}",
                f"the {rate:.0%} tariff on {country}",
                SetTariff(op="set_tariff", country=country, rate=0),
            )
        )
    for country in policy.excluded_countries:
        others = [c for c in policy.excluded_countries if c != country]
        change = SetPolicy(op="set_policy", field="excluded_countries", value=others or None)
        rules.append((f"excluded_countries.{country}", f"the exclusion of {country}", change))
    for k, cap in enumerate(policy.country_caps):
        others = [c.model_dump(exclude_none=True) for j, c in enumerate(policy.country_caps) if j != k]
        which = "every mineral" if cap.minerals is None else ", ".join(cap.minerals)
        description = f"the {cap.max_share:.0%} cap on {', '.join(cap.countries)} ({which})"
        rules.append(
            (f"country_caps[{k}]", description, SetPolicy(op="set_policy", field="country_caps", value=others or None))
        )
    if policy.max_supplier_share < 1.0:
        rules.append(
            (
                "max_supplier_share",
                f"the {policy.max_supplier_share:.0%} cap on one offer's share of a mineral",
                SetPolicy(op="set_policy", field="max_supplier_share", value=None),
            )
        )
    if policy.max_suppliers is not None:
        rules.append(
            (
                "max_suppliers",
                f"the limit of {policy.max_suppliers} offers per mineral",
                SetPolicy(op="set_policy", field="max_suppliers", value=None),
            )
        )
    for mineral in request.minerals:
        if mineral.max_spend is not None:
            rules.append(
                (
                    f"max_spend.{mineral.id}",
                    f"the ${mineral.max_spend:,.0f} spend cap on {mineral.label}",
                    SetMineral(op="set_mineral", mineral=mineral.id, field="max_spend", value=None),
                )
            )
    market = {m.id: m for m in request.minerals if m.market_price is not None}
    for offer in request.suppliers:
        mineral = market.get(offer.mineral)
        if mineral is None:
            continue
        price = offer.unit_price if offer.unit_price is not None else min(t.unit_price for t in offer.price_tiers or [])
        assert mineral.market_price is not None
        factor = mineral.market_price / price
        # (a factor below the smallest a change may give is a premium of a million times: no rule of policy)
        if price > (1 + PREMIUM_THRESHOLD) * mineral.market_price and factor >= SMALLEST:
            premium = price / mineral.market_price - 1
            change = ScalePrices(op="scale_prices", supplier=offer.id, factor=factor)
            description = f"{offer.company}'s {mineral.label} at market price (it asks {premium:.0%} more)"
            rules.append((f"premium.{offer.id}", description, change))
    return rules


def policy_costs(
    request: PolicyCostsRequest,
    executor: Executor | None = None,
    options: EngineTuning | None = None,
    deadline: float | None = None,
    on_progress: Progress | None = None,
) -> PolicyCostsResult:
    """What each rule in force costs: the base solved with that one rule lifted, most costly first."""
    base = request.request
    rules = rules_in_force(base)
    # (each side's budget stays within the contract's bounds: at 1e-06 or 1e+15 that side has no step)
    step = min(MARGINAL_STEP, base.budget / 2)
    above, below = min(base.budget + step, LARGEST), max(base.budget - step, SMALLEST)
    marginal = [[SetBudget(op="set_budget", value=above)], [SetBudget(op="set_budget", value=below)]]
    coverage_base = base.model_copy(update={"objective": Objective.MAX_COVERAGE})
    same = base.objective is Objective.MAX_COVERAGE
    items: list[list[Any]] = [[]] + [[change] for _, _, change in rules] + (marginal if same else [])
    answers = [result for result, _ in _solve_all(base, items, executor, options, deadline, on_progress)]
    if same:
        base_coverage, up, down = answers[0], answers[-2], answers[-1]
    else:
        extra = _solve_all(coverage_base, [[], *marginal], executor, options, deadline, None)
        base_coverage, up, down = (r for r, _ in extra)
    first = answers[0]
    costs = [
        _rule_cost(key, description, change, first, lifted)
        for (key, description, change), lifted in zip(rules, answers[1 : 1 + len(rules)], strict=True)
    ]
    costs.sort(key=lambda c: _cost_order(base.objective, first, c))
    return PolicyCostsResult(
        base=Outcome(status=first.status, coverage_score=first.coverage_score, total_spend=first.total_spend),
        rules=costs,
        budget_marginal_value=_marginal(base_coverage, up, down, above - base.budget, base.budget - below),
    )


def _rule_cost(
    key: str, description: str, change: Change, base: AllocationResult, lifted: AllocationResult
) -> RuleCost:
    gain = (
        None
        if base.coverage_score is None or lifted.coverage_score is None
        else lifted.coverage_score - base.coverage_score
    )
    return RuleCost(
        rule=key,
        description=description,
        change=change,
        status=lifted.status,
        coverage_score=lifted.coverage_score,
        total_spend=lifted.total_spend,
        coverage_gain=gain,
        spend_saving=base.total_spend - lifted.total_spend,
    )


def _cost_order(objective: Objective, base: AllocationResult, cost: RuleCost) -> tuple[float, ...]:
    """Most costly first: a rule whose lifting makes an infeasible base solvable, then by gain and saving."""
    unblocks = float(not base.status.has_allocation and cost.status.has_allocation)
    if objective is Objective.MAX_COVERAGE:
        return (-unblocks, -(cost.coverage_gain or 0.0), -cost.spend_saving, 0.0)
    return (-unblocks, -cost.spend_saving, 0.0, 0.0)


def _marginal(
    base: AllocationResult, up: AllocationResult, down: AllocationResult, up_step: float, down_step: float
) -> float | None:
    """Coverage score per extra $1M: the two-sided difference, or one-sided where a side has no score
    (or no step: a budget at the contract's bound)."""
    score = base.coverage_score if base.status.has_allocation else None
    hi = up.coverage_score if up.status.has_allocation and up_step > 0 else None
    lo = down.coverage_score if down.status.has_allocation and down_step > 0 else None
    if hi is not None and lo is not None:
        return (hi - lo) / (up_step + down_step) * MARGINAL_STEP
    if hi is not None and score is not None:
        return (hi - score) / up_step * MARGINAL_STEP
    if lo is not None and score is not None:
        return (score - lo) / down_step * MARGINAL_STEP
    return None
