"""Check a result against its request with plain arithmetic.

Nothing here looks at the optimisation model: quantities are read from the
result's allocation lines, every cost is recomputed from the request's prices,
tariffs and fixed costs, and every rule of the contract is tested directly.
The engine runs this before it returns anything; anyone holding a request and
a result (a test, a client, an auditor) can run it too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from models import AllocationRequest, AllocationResult, Objective
from solvers.prepare.pricing import offer_cost

# Every rule holds to this much, relative to the size of the quantity it bounds.
RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.rule}]"


def _over(value: float, limit: float) -> bool:
    return value > limit + RELATIVE_TOLERANCE * max(abs(limit), 1e-12)


def _under(value: float, limit: float) -> bool:
    return value < limit - RELATIVE_TOLERANCE * max(abs(limit), 1e-12)


def _differs(reported: float, actual: float, scale: float) -> bool:
    return abs(reported - actual) > RELATIVE_TOLERANCE * max(abs(actual), abs(scale), 1e-12)


def check_result(request: AllocationRequest, result: AllocationResult) -> list[Violation]:
    """Every way ``result`` breaks ``request``; empty when it is sound."""
    if not result.status.has_allocation:
        return [Violation("status", "result", "carries allocations without a solution")] if result.allocations else []
    out: list[Violation] = []
    offers = request.offers_by_id(line.supplier_id for line in result.allocations)
    excluded = set(request.policy.excluded_countries)
    quantity: dict[str, float] = defaultdict(float)
    spend: dict[str, float] = defaultdict(float)
    used: dict[str, int] = defaultdict(int)
    by_country: dict[str, dict[str, float]] = {}  # mineral -> country -> quantity, in line order
    seen: set[str] = set()
    total = 0.0

    for line in result.allocations:
        where = f"allocation {line.supplier_id}"
        offer = offers.get(line.supplier_id)
        if offer is None:
            out.append(Violation("reference", where, "no such offer in the request"))
            continue
        if line.supplier_id in seen:
            out.append(Violation("reference", where, "offer listed twice"))
        seen.add(line.supplier_id)
        q = line.quantity
        if line.mineral != offer.mineral or line.country != offer.country:
            out.append(Violation("reference", where, "mineral or country differs from the offer"))
        if not math.isfinite(q) or q <= 0:
            out.append(Violation("quantity", where, f"quantity {q} is not positive"))
            continue
        if offer.country in excluded:
            out.append(Violation("excluded_country", where, f"bought from excluded country {offer.country}"))
        if _over(q, offer.capacity):
            out.append(Violation("capacity", where, f"quantity {q:g} exceeds capacity {offer.capacity:g}"))
        if _under(q, offer.min_order):
            out.append(Violation("min_order", where, f"quantity {q:g} is below the minimum order {offer.min_order:g}"))
        if offer.lot_size is not None:
            lots = q / offer.lot_size
            if abs(lots - round(lots)) > RELATIVE_TOLERANCE * max(1.0, lots):
                message = f"quantity {q:g} is not a whole number of {offer.lot_size:g} lots"
                out.append(Violation("lot_size", where, message))
        cost = offer_cost(request, offer, q)
        for name, reported, actual in (
            ("goods_cost", line.goods_cost, cost.goods),
            ("tariff_cost", line.tariff_cost, cost.tariff),
            ("fixed_cost", line.fixed_cost, cost.fixed),
            ("spend", line.spend, cost.spend),
        ):
            if _differs(reported, actual, cost.spend):
                out.append(Violation("cost", where, f"{name} {reported:.6g} but the prices give {actual:.6g}"))
        quantity[offer.mineral] += q
        spend[offer.mineral] += cost.spend
        used[offer.mineral] += 1
        countries = by_country.setdefault(offer.mineral, {})
        countries[offer.country] = countries.get(offer.country, 0.0) + q
        total += cost.spend

    out += _mineral_rules(request, result, quantity, spend, used, by_country)
    out += _policy_rules(request, result, quantity, by_country)
    out += _totals(request, result, quantity, total)
    return out


def _mineral_rules(request, result, quantity, spend, used, by_country) -> list[Violation]:
    out = []
    limit = request.policy.max_suppliers
    summaries = {s.id: s for s in result.minerals}
    for m in request.minerals:
        where = f"mineral {m.id}"
        q = quantity[m.id]
        if _under(q, m.min_quantity):
            out.append(Violation("min_quantity", where, f"quantity {q:g} is below min_quantity {m.min_quantity:g}"))
        if request.objective is Objective.MIN_COST and _under(q, m.target):
            out.append(Violation("target", where, f"quantity {q:g} is below the target {m.target:g}"))
        if m.max_quantity is not None and _over(q, m.max_quantity):
            out.append(Violation("max_quantity", where, f"quantity {q:g} exceeds max_quantity {m.max_quantity:g}"))
        if m.max_spend is not None and _over(spend[m.id], m.max_spend):
            out.append(Violation("max_spend", where, f"spend {spend[m.id]:.2f} exceeds max_spend {m.max_spend:.2f}"))
        if limit is not None and used[m.id] > limit:
            out.append(Violation("max_suppliers", where, f"{used[m.id]} offers used, at most {limit} allowed"))
        summary = summaries.get(m.id)
        if summary is None:
            out.append(Violation("summary", where, "missing from the mineral summaries"))
            continue
        coverage = min(1.0, q / m.target)
        if _differs(summary.quantity, q, q) or _differs(summary.coverage, coverage, 1.0):
            out.append(Violation("summary", where, "quantity or coverage differs from the allocation lines"))
        if _differs(summary.spend, spend[m.id], spend[m.id]):
            out.append(Violation("summary", where, "spend differs from the allocation lines"))
        if summary.suppliers_used != used[m.id]:
            out.append(Violation("summary", where, f"suppliers_used {summary.suppliers_used} but {used[m.id]} lines"))
        shares = {c: v / q for c, v in by_country.get(m.id, {}).items()} if q > 0 else {}
        reported = summary.share_by_country
        if reported.keys() != shares.keys() or any(_differs(reported[c], shares[c], 1.0) for c in shares):
            out.append(Violation("summary", where, "share_by_country differs from the allocation lines"))
    return out


def _policy_rules(request, result, quantity, by_country) -> list[Violation]:
    out = []
    policy = request.policy
    for c, cap in enumerate(policy.country_caps):
        countries = set(cap.countries)
        for m in request.minerals:
            if cap.minerals is not None and m.id not in cap.minerals:
                continue
            from_capped = sum(q for country, q in by_country.get(m.id, {}).items() if country in countries)
            if from_capped > cap.max_share * quantity[m.id] + RELATIVE_TOLERANCE * quantity[m.id]:
                out.append(
                    Violation(
                        "country_cap",
                        f"policy.country_caps[{c}] on {m.id}",
                        f"{from_capped:g} from {sorted(countries)} exceeds {cap.max_share:.0%} of {quantity[m.id]:g}",
                    )
                )
    share = policy.max_supplier_share
    if share < 1:
        for line in result.allocations:
            total = quantity[line.mineral]
            if line.quantity > share * total + RELATIVE_TOLERANCE * total:
                out.append(
                    Violation(
                        "max_supplier_share",
                        f"allocation {line.supplier_id}",
                        f"supplies {line.quantity / total:.4%} of {line.mineral}, more than {share:.2%}",
                    )
                )
    return out


def _totals(request, result, quantity, total) -> list[Violation]:
    out = []
    if _over(total, request.budget):
        message = f"total spend {total:.2f} exceeds the budget {request.budget:.2f}"
        out.append(Violation("budget", "request", message))
    if _differs(result.total_spend, total, total):
        message = f"total_spend {result.total_spend:.6g} but the lines add to {total:.6g}"
        out.append(Violation("summary", "result", message))
    if _differs(result.budget_remaining, request.budget - total, request.budget):
        out.append(Violation("summary", "result", "budget_remaining is not the budget less total_spend"))
    objective = total
    if request.objective is Objective.MAX_COVERAGE:
        weight = sum(m.weight for m in request.minerals)
        score = sum(m.weight * min(1.0, quantity[m.id] / m.target) for m in request.minerals) / weight
        if result.coverage_score is None or _differs(result.coverage_score, score, 1.0):
            message = f"coverage_score {result.coverage_score} but quantities give {score:.9f}"
            out.append(Violation("summary", "result", message))
        objective = score
    if result.objective_value is None or _differs(result.objective_value, objective, max(objective, 1.0)):
        message = f"objective_value {result.objective_value} but the allocation gives {objective:.9g}"
        out.append(Violation("summary", "result", message))
    return out
