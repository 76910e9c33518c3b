"""Assemble the result a user sees: every figure from quantities and the request.

All money and coverage figures are recomputed here by plain arithmetic
(``solvers.prepare.pricing``) from the snapped quantities, never copied from the
solver, so the response is exactly consistent with the request's prices.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from models import (
    AllocationLine,
    AllocationRequest,
    AllocationResult,
    Finding,
    MineralSummary,
    ModelSize,
    Objective,
    Severity,
    Status,
)
from solvers.prepare.instance import Instance
from solvers.prepare.pricing import offer_cost
from solvers.report.check import RELATIVE_TOLERANCE

# A limit counts as binding when less than this share of it is left.
BINDING = 1e-3
# Offers dropped before solving are listed one by one up to this many.
LIST_DROPPED = 20


@dataclass(frozen=True, slots=True)
class SolveStats:
    status: Status
    seconds: float
    size: ModelSize
    gap: float | None = None
    bound: float | None = None


def build_result(
    request: AllocationRequest,
    quantities: list[float],
    stats: SolveStats,
    findings: list[Finding],
) -> AllocationResult:
    markets = {m.id: m.market_price for m in request.minerals}
    lines: list[AllocationLine] = []
    for offer, q in zip(request.suppliers, quantities):
        if q <= 0:
            continue
        cost = offer_cost(request, offer, q)
        average = cost.spend / q
        market = markets[offer.mineral]
        lines.append(
            AllocationLine(
                supplier_id=offer.id,
                supplier=offer.company,
                mineral=offer.mineral,
                country=offer.country,
                quantity=q,
                goods_cost=cost.goods,
                tariff_cost=cost.tariff,
                fixed_cost=cost.fixed,
                spend=cost.spend,
                average_unit_price=average,
                premium_vs_market=None if market is None else average / market - 1,
            )
        )
    summaries = _mineral_summaries(request, lines)
    total = sum(line.spend for line in lines)
    score = None
    if request.objective is Objective.MAX_COVERAGE and stats.status.has_allocation:
        weight = sum(m.weight for m in request.minerals)
        score = sum(m.weight * s.coverage for m, s in zip(request.minerals, summaries)) / weight
    objective_value = None
    if stats.status.has_allocation:
        objective_value = score if request.objective is Objective.MAX_COVERAGE else total
    return AllocationResult(
        status=stats.status,
        objective=request.objective,
        objective_value=objective_value,
        coverage_score=score,
        total_spend=total,
        budget=request.budget,
        budget_remaining=request.budget - total,
        mip_gap=stats.gap,
        best_bound=stats.bound,
        solve_seconds=stats.seconds,
        model=stats.size,
        allocations=lines,
        minerals=summaries,
        diagnostics=findings,
    )


def empty_result(
    request: AllocationRequest,
    status: Status,
    seconds: float,
    findings: list[Finding],
    size: ModelSize | None = None,
) -> AllocationResult:
    """An answer with nothing bought: infeasible, or stopped before any allocation."""
    size = size or ModelSize(variables=0, binaries=0, integers=0, constraints=0)
    return build_result(request, [0.0] * len(request.suppliers), SolveStats(status, seconds, size), findings)


def _mineral_summaries(request: AllocationRequest, lines: list[AllocationLine]) -> list[MineralSummary]:
    quantity: dict[str, float] = defaultdict(float)
    spend: dict[str, float] = defaultdict(float)
    used: dict[str, int] = defaultdict(int)
    countries: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in lines:
        quantity[line.mineral] += line.quantity
        spend[line.mineral] += line.spend
        used[line.mineral] += 1
        countries[line.mineral][line.country] += line.quantity
    out = []
    for m in request.minerals:
        q = quantity[m.id]
        shares = {c: v / q for c, v in sorted(countries[m.id].items())} if q > 0 else {}
        out.append(
            MineralSummary(
                id=m.id,
                name=m.label,
                unit=m.unit,
                quantity=q,
                target=m.target,
                coverage=min(1.0, q / m.target),
                spend=spend[m.id],
                suppliers_used=used[m.id],
                share_by_country=shares,
            )
        )
    return out


def solved_findings(instance: Instance, result: AllocationResult, stopped: bool = False) -> list[Finding]:
    """What limited a solved allocation: binding budget, caps and supply.

    ``stopped``: the search ended at a limit before it proved this allocation's
    score (or spend) the best, so a target short may be the search's doing.
    """
    request = instance.request
    limits: list[Finding] = []
    if result.budget_remaining <= BINDING * request.budget:
        limits.append(
            Finding(
                code="budget_binding",
                severity=Severity.INFO,
                requirement="budget",
                required=request.budget,
                achievable=result.total_spend,
                message=f"The budget of {money(request.budget)} is fully used.",
            )
        )
    summaries = {s.id: s for s in result.minerals}
    for md in instance.minerals:
        m, s = md.mineral, summaries[md.mineral.id]
        limits += _used_up(m, "spend_cap_binding", "max_spend", m.max_spend, s.spend, money)
        limits += _used_up(m, "max_quantity_binding", "max_quantity", m.max_quantity, s.quantity, unit_amount(m.unit))
    limits += _policy_findings(instance, result)
    bought = {a.supplier_id: a.quantity for a in result.allocations}
    shortfalls = [
        _shortfall(instance, md, summaries[md.mineral.id], bought, limits, stopped)
        for md in instance.minerals
        if summaries[md.mineral.id].coverage < 1 - RELATIVE_TOLERANCE  # closer is the solver's tolerance
    ]
    return limits + shortfalls + dropped_findings(instance)


def _used_up(m, code: str, field: str, cap: float | None, used: float, shown) -> list[Finding]:
    """A mineral's own cap (``field``), if ``used`` has all but reached it; ``shown`` formats the amount."""
    if cap is None or used < (1 - BINDING) * cap:
        return []
    return [_limit(m, code, field, cap, used, f"{m.label}'s {field} of {shown(cap)} is used up.")]


def _shortfall(
    instance: Instance, md, s: MineralSummary, bought: dict[str, float], limits: list[Finding], stopped: bool
) -> Finding:
    """A target not covered, with the limits that stopped it (``bought``: quantity by supplier id)."""
    m = md.mineral
    usable = instance.offers.suppliers_of(md.offers)
    reasons = [f.message.rstrip(".").removeprefix(f"{m.label}: ") for f in limits if f.mineral == m.id]
    if any(f.code == "budget_binding" for f in limits):
        reasons.append("the budget is fully used")
    if stopped:
        reasons.append("the search stopped at its time limit before it proved that no more can be bought")
    too_few = too_few_for_share(instance, md)
    if too_few:
        reasons.append(too_few)
    if not usable:
        reasons.append("no offer for it can be used")
    elif all(_bought_out(bought, o) for o in usable):
        reasons.append(f"every usable offer is bought out ({amount(sum(o.capacity for o in usable), m.unit)})")
    else:
        for cap in instance.request.policy.country_caps:
            if cap.minerals is not None and m.id not in cap.minerals:
                continue
            outside = [o for o in usable if o.country not in cap.countries]
            if outside and all(_bought_out(bought, o) for o in outside):
                reasons.append(f"every offer from outside {', '.join(cap.countries)} is bought out")
    if not reasons:
        reasons.append("buying more would break a minimum order, lot, tier or policy rule, or cost more than is left")
    return Finding(
        code="target_not_covered",
        severity=Severity.WARNING,
        mineral=m.id,
        requirement="target",
        required=m.target,
        achievable=s.quantity,
        shortfall=m.target - s.quantity,
        message=f"{m.label}: {amount(s.quantity, m.unit)} of the {amount(m.target, m.unit)} target "
        f"({percent(s.coverage)}), {amount(m.target - s.quantity, m.unit)} short; limited by: {'; '.join(reasons)}.",
    )


def too_few_for_share(instance: Instance, md) -> str | None:
    """Why nothing of a mineral can be bought under max_supplier_share, if that is so.

    Each offer may supply at most that share of the mineral's total, so fewer than
    1 / share usable offers can supply no total but zero.
    """
    share = instance.request.policy.max_supplier_share
    ratio = 1 / share  # infinite for a share below about 1e-308: then no number of offers is enough
    if not md.offers or (math.isfinite(ratio) and len(md.offers) >= math.ceil(ratio - 1e-9)):
        return None  # (no offer at all is a reason of its own)
    needed = f"at least {math.ceil(ratio - 1e-9):,}" if math.isfinite(ratio) else "more"
    return (
        f"the {share:.0%} max_supplier_share needs {needed} usable offers for anything to be bought, "
        f"and {len(md.offers)} can be used"
    )


def percent(share: float) -> str:
    """``share`` as a percentage, with the digits it takes not to read 100.0% when it is less."""
    for digits in range(1, 7):
        text = f"{share:.{digits}%}"
        if share >= 1 or not text.startswith("100."):
            return text
    return text


def _bought_out(bought: dict[str, float], offer) -> bool:
    return bought.get(offer.id, 0.0) >= (1 - BINDING) * offer.capacity


def _policy_findings(instance: Instance, result: AllocationResult) -> list[Finding]:
    out = []
    request = instance.request
    summaries = {s.id: s for s in result.minerals}
    for c, cap in enumerate(request.policy.country_caps):
        for m in request.minerals:
            if cap.minerals is not None and m.id not in cap.minerals:
                continue
            s = summaries[m.id]
            if s.quantity <= 0 or cap.max_share >= 1:
                continue
            share = sum(v for k, v in s.share_by_country.items() if k in cap.countries)
            if share >= cap.max_share - BINDING:
                rule = f"the {cap.max_share:.0%} cap on {', '.join(cap.countries)}"
                out.append(_reached(m, "country_cap_binding", f"policy.country_caps[{c}]", cap.max_share, share, rule))
    share = request.policy.max_supplier_share
    if share < 1:
        largest: dict[str, float] = defaultdict(float)  # each mineral's largest line
        for line in result.allocations:
            largest[line.mineral] = max(largest[line.mineral], line.quantity)
        for m in request.minerals:
            total = summaries[m.id].quantity
            if total > 0 and largest[m.id] >= (share - BINDING) * total:
                rule = f"the {share:.0%} limit on one offer's share"
                out.append(
                    _reached(
                        m, "supplier_share_binding", "policy.max_supplier_share", share, largest[m.id] / total, rule
                    )
                )
    limit = request.policy.max_suppliers
    if limit is not None:
        for m in request.minerals:
            used = summaries[m.id].suppliers_used
            if used >= limit:
                rule = f"the limit of {limit} supplier(s)"
                out.append(_reached(m, "max_suppliers_binding", "policy.max_suppliers", limit, used, rule))
    return out


def _reached(m, code: str, requirement: str, required: float, achievable: float, rule: str) -> Finding:
    """A policy ``rule`` that a mineral's allocation reaches."""
    return _limit(m, code, requirement, required, achievable, f"{m.label}: {rule} is reached.")


def _limit(m, code: str, requirement: str, required: float, achievable: float, message: str) -> Finding:
    """A limit of mineral ``m`` that its allocation uses up (information, not a problem)."""
    return Finding(
        code=code,
        severity=Severity.INFO,
        mineral=m.id,
        requirement=requirement,
        required=required,
        achievable=achievable,
        message=message,
    )


# An offer that can supply this many times what its mineral needs puts the useful share of its
# bound (the model's quantity column) within 10x of the solver's 1e-7 tolerances.
OUT_OF_SCALE = 1e6


def out_of_scale(instance: Instance) -> list[Finding]:
    """Minerals with an offer so much larger than the need that the solver's tolerances may pick the answer.

    Plain minerals are bounded by their need already (``solvers.prepare.instance``); the others are not
    (docs/formulation.md, "Bounds"): their answer is valid, but may not be the best.
    """
    table = instance.offers.table
    need = np.array([md.reference for md in instance.minerals], dtype=float)[table.mineral]
    wide = np.flatnonzero(table.bound > OUT_OF_SCALE * need)
    # each mineral once, with its first such offer (in offer order)
    _, first = np.unique(table.mineral[wide], return_index=True)
    out = []
    for p in sorted(wide[first].tolist()):
        md = instance.minerals[int(table.mineral[p])]
        m = md.mineral
        offer = instance.request.suppliers[int(table.index[p])]
        out.append(
            Finding(
                code="offer_out_of_scale",
                severity=Severity.WARNING,
                mineral=m.id,
                requirement="max_quantity",
                required=md.reference,
                achievable=float(table.bound[p]),
                message=f"{m.label}: offer {offer.id} can supply {amount(float(table.bound[p]), m.unit)}, "
                f"{float(table.bound[p]) / md.reference:,.3g} times the {amount(md.reference, m.unit)} needed; at that "
                "scale the solver's tolerances can decide which offers are used, so this allocation may not be "
                f"the best. A max_quantity for {m.label} near what can be used avoids it.",
            )
        )
    return out


def dropped_findings(instance: Instance) -> list[Finding]:
    """Offers that could not be used at all, and why."""
    request = instance.request
    if not instance.dropped:
        return []
    if len(instance.dropped) > LIST_DROPPED:
        return [
            Finding(
                code="offers_unusable",
                severity=Severity.INFO,
                message=f"{len(instance.dropped)} offers cannot be used (excluded countries, or too large "
                "for the budget, caps or capacity).",
            )
        ]
    out = []
    for i, reason in instance.dropped.items():
        offer = request.suppliers[i]
        out.append(
            Finding(
                code="offer_unusable",
                severity=Severity.INFO,
                mineral=offer.mineral,
                message=f"Offer {offer.id} ({offer.company}, {offer.mineral}) cannot be used: {reason}.",
            )
        )
    return out


def money(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:,.3g}{suffix}"
    return f"${value:,.2f}"


def amount(value: float, unit: str) -> str:
    return f"{value:,.6g} {unit}"


def unit_amount(unit: str):
    """``amount`` in ``unit``, as a one-argument formatter."""
    return lambda value: amount(value, unit)
