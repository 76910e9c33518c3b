"""Properties that must hold on every request, checked on random small ones."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import AllocationRequest, Objective, Status
from solvers import allocate, check_result
from tests import brute_force
from tests.strategies import requests

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def spend_tolerance(request: AllocationRequest) -> float:
    return 1e-6 * request.budget


@PROPERTY
@given(requests())
def test_every_returned_allocation_passes_the_independent_check(req):
    result = allocate(req)
    assert result.status in (Status.OPTIMAL, Status.INFEASIBLE)
    assert check_result(req, result) == []
    if result.status is Status.INFEASIBLE:
        assert result.allocations == []
        assert result.diagnostics, "an infeasible answer must say why"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(requests(max_minerals=2, max_offers=2))
def test_matches_brute_force_on_tiny_requests(req):
    expected = brute_force.solve(req)
    result = allocate(req)
    if expected is None:
        assert result.status is Status.INFEASIBLE
        return
    assert result.status is Status.OPTIMAL
    if req.objective is Objective.MAX_COVERAGE:
        assert result.coverage_score == pytest.approx(expected.score, abs=1e-6)
    assert result.total_spend == pytest.approx(expected.spend, abs=spend_tolerance(req))


@PROPERTY
@given(requests(objective="max_coverage", floors=False), st.sampled_from([1.5, 2.0, 10.0]))
def test_more_budget_never_lowers_the_score(req, factor):
    richer = req.model_copy(update={"budget": req.budget * factor})
    assert allocate(richer).coverage_score >= allocate(req).coverage_score - 1e-7


@PROPERTY
@given(requests(), st.integers(0, 2**32 - 1))
def test_order_of_suppliers_and_minerals_does_not_matter(req, seed):
    rng = random.Random(seed)
    suppliers, minerals = list(req.suppliers), list(req.minerals)
    rng.shuffle(suppliers)
    rng.shuffle(minerals)
    shuffled = req.model_copy(update={"suppliers": suppliers, "minerals": minerals})
    a, b = allocate(req), allocate(shuffled)
    assert a.status == b.status
    if a.status.has_allocation:
        assert a.coverage_score == pytest.approx(b.coverage_score, abs=1e-7)
        assert a.total_spend == pytest.approx(b.total_spend, abs=spend_tolerance(req))


@PROPERTY
@given(requests())
def test_scaling_money_by_1000_gives_the_same_quantities(req):
    scaled = AllocationRequest.model_validate(_scale_money(req.model_dump(), 1000.0))
    a, b = allocate(req), allocate(scaled)
    assert a.status == b.status
    if not a.status.has_allocation:
        return
    assert a.coverage_score == pytest.approx(b.coverage_score, abs=1e-7)
    assert b.total_spend == pytest.approx(1000 * a.total_spend, abs=1000 * spend_tolerance(req))
    qa = {line.supplier_id: line.quantity for line in a.allocations}
    qb = {line.supplier_id: line.quantity for line in b.allocations}
    assert qa.keys() == qb.keys()
    for key, quantity in qa.items():
        assert qb[key] == pytest.approx(quantity, rel=1e-6, abs=1e-6)


def _scale_money(data: dict, factor: float) -> dict:
    data["budget"] *= factor
    for m in data["minerals"]:
        for key in ("max_spend", "market_price"):
            if m.get(key) is not None:
                m[key] *= factor
    for o in data["suppliers"]:
        o["fixed_cost"] *= factor
        if o.get("unit_price") is not None:
            o["unit_price"] *= factor
        for t in o.get("price_tiers") or []:
            t["unit_price"] *= factor
    return data
