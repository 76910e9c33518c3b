"""Money, quantities, weights and factors lie in [1e-6, 1e15] when positive: in validation and in the schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from bench.instances import dla_case, make_request, suite
from models import AllocationRequest
from models.analyses import FrontierRequest
from models.changes import (
    ChangeProblem,
    ChangesRequest,
    ScaleBudget,
    ScaleCapacity,
    ScalePrices,
    SetMineral,
    apply_changes,
)
from service import examples

SMALL = {
    "budget": 1_000_000,
    "minerals": [{"id": "cobalt", "target": 20}],
    "suppliers": [{"id": "a", "mineral": "cobalt", "country": "AU", "capacity": 15, "unit_price": 35_000}],
}


def with_value(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(SMALL)
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def messages(body: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as info:
        AllocationRequest.model_validate(body)
    return {tuple(e["loc"]): e["msg"] for e in info.value.errors()}


@pytest.mark.parametrize(
    "path",
    [
        ("budget",),
        ("minerals", 0, "target"),
        ("minerals", 0, "max_quantity"),
        ("minerals", 0, "max_spend"),
        ("minerals", 0, "market_price"),
        ("minerals", 0, "weight"),
        ("suppliers", 0, "capacity"),
        ("suppliers", 0, "unit_price"),
        ("suppliers", 0, "lot_size"),
    ],
)
def test_a_positive_number_lies_between_1e_minus_6_and_1e15(path):
    AllocationRequest.model_validate(with_value(path, 1e-6))
    assert messages(with_value(path, 9.9e-7))[path] == "must be at least 1e-06"
    assert messages(with_value(path, 1.01e15))[path] == "must be at most 1e+15"
    assert messages(with_value(path, 5e-324))[path] == "must be at least 1e-06"
    assert "greater than 0" in messages(with_value(path, 0))[path]


def test_the_largest_magnitude_is_accepted():
    body = with_value(("budget",), 1e15)
    body["suppliers"][0]["capacity"] = 1e15
    body["suppliers"][0]["unit_price"] = 1e15
    AllocationRequest.model_validate(body)


@pytest.mark.parametrize("path", [("suppliers", 0, "min_order"), ("suppliers", 0, "fixed_cost")])
def test_a_number_that_may_be_zero_is_zero_or_within_the_bounds(path):
    AllocationRequest.model_validate(with_value(path, 0))
    AllocationRequest.model_validate(with_value(path, 1e-6))
    assert messages(with_value(path, 1e-7))[path] == "must be 0 or at least 1e-06"
    assert messages(with_value(path, 2e15))[path] == "must be at most 1e+15"


def test_price_tiers_are_bounded_too():
    body = copy.deepcopy(SMALL)
    offer = body["suppliers"][0]
    del offer["unit_price"]
    offer["price_tiers"] = [{"up_to": 1e-7, "unit_price": 1}, {"up_to": None, "unit_price": 2e15}]
    found = messages(body)
    assert found[("suppliers", 0, "price_tiers", 0, "up_to")] == "must be at least 1e-06"
    assert found[("suppliers", 0, "price_tiers", 1, "unit_price")] == "must be at most 1e+15"


def test_rates_and_shares_keep_their_own_bounds():
    body = copy.deepcopy(SMALL)
    body["policy"] = {"tariffs": {"CN": 1e-9, "AU": 250.0}, "max_supplier_share": 1e-9}
    AllocationRequest.model_validate(body)


def test_the_changes_and_a_frontier_are_bounded():
    changes = [{"op": "scale_budget", "factor": 2e15}, {"op": "scale_capacity", "factor": 1e-8, "mineral": "cobalt"}]
    with pytest.raises(ValidationError) as info:
        ChangesRequest.model_validate({"request": SMALL, "changes": changes})
    found = {tuple(e["loc"]): e["msg"] for e in info.value.errors()}
    assert found[("changes", 0, "scale_budget", "factor")] == "must be at most 1e+15"
    assert found[("changes", 1, "scale_capacity", "factor")] == "must be 0 or at least 1e-06"
    with pytest.raises(ValidationError, match="must be at least 1e-06"):
        SetMineral.model_validate({"op": "set_mineral", "mineral": "cobalt", "field": "max_spend", "value": 1e-9})
    with pytest.raises(ValidationError, match="must be at most 1e\\+15"):
        FrontierRequest.model_validate({"request": SMALL, "budgets": [1e6, 1e16]})


def test_the_schema_states_the_bounds():
    defs = AllocationRequest.model_json_schema()["$defs"]
    budget = AllocationRequest.model_json_schema()["properties"]["budget"]
    assert (budget["minimum"], budget["maximum"]) == (1e-6, 1e15) and "exclusiveMinimum" not in budget
    min_order = defs["SupplierOffer"]["properties"]["min_order"]
    assert (min_order["minimum"], min_order["maximum"]) == (0, 1e15)
    assert min_order["not"] == {"exclusiveMinimum": 0, "exclusiveMaximum": 1e-6}


def test_the_examples_and_the_benchmark_requests_are_within_the_bounds():
    for example in examples.catalogue().values():
        AllocationRequest.model_validate(example["request"])
    assert dla_case().request.budget > 0
    for case in suite(quick=True):
        assert case.request.budget > 0
    for seed in (1, 2, 3):  # every size's features, at a size that validates quickly
        for objective in ("max_coverage", "min_cost"):
            AllocationRequest.model_validate(make_request(20, 30, objective, seed))


def test_changes_cannot_scale_a_request_out_of_the_bounds():
    request = AllocationRequest.model_validate({**SMALL, "budget": 1e14})
    with pytest.raises(ChangeProblem, match="the budget would be 1e\\+16"):
        apply_changes(request, [ScaleBudget(op="scale_budget", factor=100)])
    with pytest.raises(ChangeProblem, match="a unit price of offer 'a' would be 3.5e-08"):
        apply_changes(request, [ScalePrices(op="scale_prices", factor=1e-6)] * 2)
    with pytest.raises(ChangeProblem, match="the capacity of offer 'a' would be 1.5e\\+16"):
        apply_changes(request, [ScaleCapacity(op="scale_capacity", factor=1e15)])
    shrunk = apply_changes(request, [ScaleCapacity(op="scale_capacity", factor=1e-4)] * 2)
    assert shrunk.request.suppliers == [] and "below 1e-06" in shrunk.unavailable[0].reason


@pytest.mark.parametrize("budget", [1e-6, 1e15])
def test_policy_costs_at_a_budget_on_the_bound_step_only_inwards(budget):
    # The marginal value re-solves a step above and below the budget; at a bound one side has no step
    # (a step past it was a set_budget outside the bounds: a 422 for a valid request).
    from analyses import policy_costs
    from models.analyses import PolicyCostsRequest

    request = with_value(("budget",), budget)
    request["policy"] = {"tariffs": {"AU": 0.5}}
    result = policy_costs(PolicyCostsRequest.model_validate({"request": request}))
    assert [r.rule for r in result.rules] == ["tariffs.AU"]
    assert result.budget_marginal_value is not None and result.budget_marginal_value >= 0


def test_a_frontier_takes_a_whole_number_of_points_written_as_a_float():
    body = {"request": SMALL, "from": 1e5, "to": 1e6, "points": 3.0}
    assert FrontierRequest.model_validate(body).points == 3
    with pytest.raises(ValidationError):
        FrontierRequest.model_validate({**body, "points": 3.5})
