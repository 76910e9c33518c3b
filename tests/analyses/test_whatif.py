"""Comparisons, frontiers and policy costs: each figure is a fresh solve's, and the curves behave."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyses import compare, frontier, knees, policy_costs, rules_in_force
from models import AllocationRequest, Objective, Status
from models.analyses import ComparisonRequest, FrontierPoint, FrontierRequest, PolicyCostsRequest
from models.changes import apply_changes
from solvers import Resolver, allocate, check_result
from tests.analyses.strategies import change_lists
from tests.strategies import requests

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
DLA = json.loads((Path(__file__).parents[2] / "service" / "examples" / "dla-2025.json").read_text())["request"]


def same_answer(a, b, request: AllocationRequest) -> None:
    """``a`` and ``b`` answer ``request`` alike: status, score within 1e-6, spend within 1e-6 relative at that score."""
    assert a.status == b.status
    if not a.status.has_allocation:
        return
    if request.objective is Objective.MAX_COVERAGE:
        assert a.coverage_score == pytest.approx(b.coverage_score, abs=1e-6)
    assert a.total_spend == pytest.approx(b.total_spend, rel=1e-6, abs=1e-6 * request.budget)


@st.composite
def comparisons(draw):
    base = draw(requests(max_minerals=2, max_offers=3))
    variants = [{"name": f"v{k}", "changes": draw(change_lists(base))} for k in range(draw(st.integers(1, 3)))]
    return ComparisonRequest.model_validate({"request": base, "variants": variants})


@PROPERTY
@given(comparisons())
def test_every_scenario_equals_a_fresh_solve_of_its_changed_request(comparison):
    result = compare(comparison)
    assert [s.name for s in result.scenarios] == ["base"] + [v.name for v in comparison.variants]
    base_result = result.scenarios[0].result
    for scenario in result.scenarios:
        changed = apply_changes(comparison.request, scenario.changes)
        fresh = allocate(changed.request)
        same_answer(scenario.result, fresh, changed.request)
        assert check_result(changed.request, scenario.result) == []
        assert [u.supplier_id for u in scenario.unavailable_offers] == [u.supplier_id for u in changed.unavailable]
        if scenario.delta is not None:
            assert scenario.delta.total_spend == pytest.approx(scenario.result.total_spend - base_result.total_spend)


def test_dla_comparison_deltas_add_up():
    body = ComparisonRequest.model_validate(
        {
            "request": DLA,
            "variants": [
                {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]},
                {
                    "name": "indium-cut",
                    "changes": [{"op": "scale_capacity", "factor": 0, "mineral": "indium", "country": "CN"}],
                },
            ],
        }
    )
    result = compare(body)
    base, no_china = result.scenarios[0].result, result.scenarios[1]
    assert no_china.result.coverage_score <= base.coverage_score + 1e-9  # excluding a country never helps
    assert all(line.country != "CN" for line in no_china.result.allocations)
    delta = no_china.delta
    assert delta.coverage_score == pytest.approx(no_china.result.coverage_score - base.coverage_score)
    assert sum(delta.spend_by_country.values()) == pytest.approx(delta.total_spend, abs=1e-3)
    assert sum(m.spend for m in delta.minerals) == pytest.approx(delta.total_spend, abs=1e-3)
    for change in delta.offers:
        before = {line.supplier_id: line.quantity for line in base.allocations}.get(change.supplier_id, 0.0)
        assert change.base_quantity == pytest.approx(before) and change.change == pytest.approx(
            change.quantity - before
        )


@PROPERTY
@given(requests(), st.integers(3, 6))
def test_the_frontier_never_falls_as_the_budget_grows(req, points):
    body = FrontierRequest.model_validate(
        {"request": req, "from": req.budget * 0.1, "to": req.budget * 2, "points": points}
    )
    result = frontier(body)
    assert [p.budget for p in result.points] == pytest.approx(body.budget_list())
    scores = [p.coverage_score for p in result.points if p.status is Status.OPTIMAL]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(scores))
    for point in result.points:  # each point is a max_coverage solve at its budget
        changed = req.model_copy(update={"objective": Objective.MAX_COVERAGE, "budget": point.budget})
        same_answer(point, allocate(changed), changed)


def test_a_frontier_solves_no_budget_a_proven_answer_already_covers(monkeypatch):
    budgets = [2e8, 5e8, 1.2e9, 1.6e9, 2e9]  # DLA's least spend at its best score is about 1.03e9
    solved = []
    solve = Resolver.solve

    def counted(self, request, options=None):
        solved.append(request.budget)
        return solve(self, request, options)

    monkeypatch.setattr(Resolver, "solve", counted)
    result = frontier(FrontierRequest.model_validate({"request": DLA, "budgets": budgets}))
    assert solved == [2e9, 2e8, 5e8]  # the largest first; 1.2e9 and 1.6e9 take its proven answer
    top = result.points[-1]
    assert top.status is Status.OPTIMAL and top.total_spend < 1.2e9
    for point in result.points[2:]:
        assert (point.coverage_score, point.total_spend) == (top.coverage_score, top.total_spend)


def test_knees_are_where_the_slope_drops_most():
    def point(budget, score):
        return FrontierPoint(
            budget=budget, status=Status.OPTIMAL, coverage_score=score, total_spend=budget, minerals=[]
        )

    # slope 0.1/unit until 5, then 0.02 until 8, then flat
    curve = [point(b, min(0.1 * b, 0.5 + 0.02 * (b - 5)) if b <= 8 else 0.56) for b in range(11)]
    assert knees(curve) == [5, 8]
    assert knees([point(b, 0.05 * b) for b in range(6)]) == []  # a straight line has none


@PROPERTY
@given(requests())
def test_lifting_a_rule_never_hurts_and_each_cost_is_a_fresh_solve(req):
    result = policy_costs(PolicyCostsRequest(request=req))
    base = allocate(req)
    same_answer(AllocationResultLike(result.base), base, req)
    assert [r.rule for r in sorted(result.rules, key=lambda r: r.rule)] == sorted(k for k, _, _ in rules_in_force(req))
    for rule in result.rules:
        lifted = apply_changes(req, [rule.change]).request
        fresh = allocate(lifted)
        same_answer(AllocationResultLike(rule), fresh, lifted)
        if base.status is Status.OPTIMAL and fresh.status is Status.OPTIMAL:
            if req.objective is Objective.MAX_COVERAGE:
                assert rule.coverage_gain >= -1e-6
            else:
                assert rule.spend_saving >= -1e-6 * req.budget


class AllocationResultLike:
    """The status, score and spend of a policy-cost entry, read like a result."""

    def __init__(self, entry) -> None:
        self.status, self.coverage_score, self.total_spend = entry.status, entry.coverage_score, entry.total_spend


def test_dla_policy_costs_name_the_tariff_and_the_scandium_premium():
    result = policy_costs(PolicyCostsRequest.model_validate({"request": DLA}))
    rules = {r.rule: r for r in result.rules}
    assert "tariffs.CN" in rules and rules["tariffs.CN"].coverage_gain > 0
    premiums = [r for r in result.rules if r.rule.startswith("premium.")]
    assert premiums and all("market price" in r.description for r in premiums)
    gains = [r.coverage_gain for r in result.rules]
    assert gains == sorted(gains, reverse=True)
    assert result.budget_marginal_value is not None and result.budget_marginal_value >= 0


def test_the_indium_cut_removes_only_chinese_indium():
    body = ComparisonRequest.model_validate(
        {
            "request": DLA,
            "variants": [
                {
                    "name": "cut",
                    "changes": [{"op": "scale_capacity", "factor": 0, "mineral": "indium", "country": "CN"}],
                }
            ],
        }
    )
    scenario = compare(body).scenarios[1]
    assert [u.supplier_id for u in scenario.unavailable_offers] == ["in-cn"]
    assert all(line.supplier_id != "in-cn" for line in scenario.result.allocations)
