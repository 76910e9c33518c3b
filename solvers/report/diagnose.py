"""Explain an infeasible request: which floor cannot be met, by how much, and why.

The hard floors (min_quantity; every target under min_cost) are made elastic:
each gets a shortage variable, measured as a share of that floor, and the sum
of shares is minimised under every other rule as the request states it. The
floors that still come up short are the requirements that cannot be met; the
limits that the elastic allocation uses up (budget, spend caps, country caps,
supplier counts, the supply itself) say why.
"""

from __future__ import annotations

import time

import pyomo.environ as pyo

from models import AllocationRequest, Finding, Objective, Severity, Status
from solvers.answer.extract import quantities, solution
from solvers.build.program import create_model, release
from solvers.prepare.instance import Instance
from solvers.report.result import SolveStats, amount, build_result, dropped_findings, solved_findings, too_few_for_share
from solvers.solve.highs import SolveState, compile_model, solve
from solvers.tuning import EngineTuning

SHORT = 1e-6  # a shortage below this share of its floor is no shortage


def diagnose(instance: Instance, options: EngineTuning, time_left: float, size) -> list[Finding]:
    model = create_model(instance, elastic_floors=True)
    try:
        return _diagnose(model, instance, options, time_left, size)
    finally:
        release(model)  # freed when this returns, as the engine's own model is


def _diagnose(model: pyo.ConcreteModel, instance: Instance, options: EngineTuning, time_left: float, size):
    request = instance.request
    _minimise_shortage(model)
    compiled = compile_model(model)
    began = time.perf_counter()
    outcome = solve(compiled, options, time_left)
    if outcome.values is None:
        why = "" if outcome.state is SolveState.INFEASIBLE else "the diagnosis ran out of time"
        return [_unexplained(request, why)]
    answer = solution(model, compiled, outcome.values)
    q = quantities(model, instance, answer)
    elastic = build_result(request, q, SolveStats(Status.FEASIBLE, time.perf_counter() - began, size), [])
    limits = [f for f in solved_findings(instance, elastic) if f.code.endswith("_binding")]
    reached = {s.id: s.quantity for s in elastic.minerals}
    out = []
    for j, md in enumerate(instance.minerals):
        if md.floor <= 0:
            continue
        short = answer[model.arrays.shortage[j]] * md.floor
        if short <= SHORT * md.floor:
            continue
        m = md.mineral
        field = "target" if request.objective is Objective.MIN_COST and m.target >= m.min_quantity else "min_quantity"
        best = max(0.0, min(reached[m.id], md.floor - short))
        why = _why(instance, md, limits)
        out.append(
            Finding(
                code="floor_unmet",
                severity=Severity.ERROR,
                mineral=m.id,
                requirement=field,
                required=md.floor,
                achievable=best,
                shortfall=md.floor - best,
                message=f"{m.label}'s {field} {amount(md.floor, m.unit)} cannot be met: at most "
                f"{amount(best, m.unit)} can be bought {why} (short by {amount(md.floor - best, m.unit)}).",
            )
        )
    if not out:
        out.append(_unexplained(request, ""))
    return out + dropped_findings(instance)


def _minimise_shortage(model: pyo.ConcreteModel) -> None:
    # The objective: the least total shortage (shortage[j], a share of mineral j's floor).
    model.max_score.deactivate()
    model.min_spend.deactivate()
    model.least_shortage = pyo.Objective(expr=sum(model.shortage.values()), sense=pyo.minimize)


_LIMIT_NAMES = {
    "spend_cap_binding": "its max_spend",
    "country_cap_binding": "a country cap",
    "max_suppliers_binding": "the max_suppliers limit",
    "max_quantity_binding": "its max_quantity",
    "supplier_share_binding": "the max_supplier_share",
}


def _why(instance: Instance, md, limits: list[Finding]) -> str:
    if not md.offers:
        return "because no offer for it can be used"
    too_few = too_few_for_share(instance, md)
    if too_few:
        return f"because {too_few}"
    reasons = []
    for f in limits:
        if f.code == "budget_binding":
            reasons.append("the budget")
        elif f.mineral == md.mineral.id:
            reasons.append(_LIMIT_NAMES.get(f.code, f.requirement or f.code))
    reasons += _caps_covering_all_offers(instance, md)
    capacity = sum(o.capacity for o in instance.offers.suppliers_of(md.offers))
    supply = f"usable offers total {amount(capacity, md.mineral.unit)}"
    if not reasons:
        if capacity < md.floor:
            return f"because {supply}"
        return "under the budget, caps and policy rules together"
    text = "under " + ", ".join(dict.fromkeys(reasons))
    return f"{text} ({supply})" if capacity < md.floor else text


def _caps_covering_all_offers(instance: Instance, md) -> list[str]:
    """Country caps that apply to every usable offer of the mineral (a cap then caps the total)."""
    out = []
    countries = {o.country for o in instance.offers.suppliers_of(md.offers)}
    for cap in instance.request.policy.country_caps:
        applies = cap.minerals is None or md.mineral.id in cap.minerals
        if applies and cap.max_share < 1 and countries <= set(cap.countries):
            out.append(f"the {cap.max_share:.0%} cap on {', '.join(cap.countries)}, which covers every usable offer")
    return out


def _unexplained(request: AllocationRequest, detail: str) -> Finding:
    tail = f" ({detail})" if detail else ""
    return Finding(
        code="infeasible",
        severity=Severity.ERROR,
        message="No allocation meets every hard requirement; relaxing the floors did not single one out" + tail + ".",
    )
