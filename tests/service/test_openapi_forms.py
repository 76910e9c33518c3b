"""The description states the request forms validation accepts: what a generated valid request must be."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs  # (schemathesis's own validator)
import pytest

from models.analyses import FrontierRequest
from models.changes import SetMineral, SetPolicy
from service.app import create_app
from service.kinds import KINDS
from service.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def valid(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` meets ``schema``, whose references point into the description's components."""
    return jsonschema_rs.validator_for({**schema, "components": spec["components"]}).is_valid(value)


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


REQUEST = {
    "budget": 1e6,
    "minerals": [{"id": "co", "target": 20}],
    "suppliers": [{"id": "a", "mineral": "co", "country": "AU", "capacity": 15, "unit_price": 35_000}],
}


def test_a_frontier_is_either_budgets_or_a_range(spec):
    frontier = component("FrontierRequest")
    for body in (
        {"request": REQUEST, "budgets": [1e5, 1e6]},
        {"request": REQUEST, "from": 1e5, "to": 1e6, "points": 3},
    ):
        assert valid(spec, frontier, body) and FrontierRequest.model_validate(body)
    for body in (
        {"request": REQUEST, "budgets": [1e5], "from": 1e5},
        {"request": REQUEST, "from": 1e5, "to": 1e6},
        {"request": REQUEST},
    ):
        assert not valid(spec, frontier, body)


def test_a_change_value_is_what_its_field_takes(spec):
    policy = component("SetPolicy")
    for field, value, ok in (
        ("tariffs", [None, None], False),
        ("tariffs", {"CN": 0.5}, True),
        ("max_supplier_share", 0.5, True),
        ("max_supplier_share", 2, False),
        ("excluded_countries", ["RU"], True),
        ("excluded_countries", ["00"], False),
        ("max_suppliers", 0, False),
        ("country_caps", None, True),
    ):
        body = {"op": "set_policy", "field": field, "value": value}
        assert valid(spec, policy, body) == ok, body
        assert ok == _validates(SetPolicy, body), body
    mineral = component("SetMineral")
    for field, value, ok in (
        ("target", None, False),
        ("target", 0, False),
        ("target", 5.0, True),
        ("max_spend", None, True),
        ("min_quantity", 0, True),
        ("min_quantity", 1e-9, False),
        ("weight", 2e15, False),
    ):
        body = {"op": "set_mineral", "mineral": "co", "field": field, "value": value}
        assert valid(spec, mineral, body) == ok, body
        assert ok == _validates(SetMineral, body), body


def _validates(model: Any, body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValueError:
        return False
    return True


def test_a_job_names_a_kind_and_gives_that_kind_s_input(spec):
    job = spec["components"]["schemas"]["JobSubmission"]
    assert job["properties"]["kind"]["enum"] == list(KINDS)
    submission = component("JobSubmission")
    assert valid(spec, submission, {"kind": "allocation", "input": REQUEST})
    assert valid(spec, submission, {"kind": "policy_costs", "input": {"request": REQUEST}})
    assert not valid(spec, submission, {"kind": "policy_costs", "input": REQUEST})
    assert not valid(spec, submission, {"kind": "", "input": REQUEST})
    assert not valid(spec, submission, {"kind": "allocation", "input": REQUEST, "webhook_url": "ftp://x"})


def test_scenario_names_conditions_metrics_and_action_bodies_are_stated(spec):
    put = spec["paths"]["/v1/scenarios/{name}"]["put"]
    params = {p["name"]: p["schema"] for p in put["parameters"]}
    assert re.match(params["name"]["pattern"], "dla-2025") and not re.match(params["name"]["pattern"], "-x")
    etags = params["if-match"]["anyOf"][0]["pattern"]
    assert all(re.match(etags, v) for v in ('"v3"', "*", 'W/"v1", "v2"'))
    assert not any(re.match(etags, v) for v in ("", "null", "v3"))
    value = spec["paths"]["/v1/scenarios/{name}/value"]["get"]
    metric = next(p for p in value["parameters"] if p["name"] == "metric")["schema"]["pattern"]
    assert all(re.match(metric, m) for m in ("coverage_score", "total_spend", "coverage:co", "quantity:a"))
    assert not any(re.match(metric, m) for m in ("", "coverage:", "score"))
    compare = spec["paths"]["/v1/scenarios/{name}/compare"]["post"]["requestBody"]["content"]["application/json"]
    assert not valid(spec, compare["schema"], {"unknown": 1})
    assert valid(spec, compare["schema"], {}) and valid(spec, compare["schema"], None)
    frontier = spec["paths"]["/v1/scenarios/{name}/frontier"]["post"]["requestBody"]["content"]["application/json"]
    assert valid(spec, frontier["schema"], {"budgets": [1e6]})
    assert not valid(spec, frontier["schema"], {"budgets": [1e6], "points": 3})


def test_only_actions_whose_kind_runs_have_a_route(spec):
    paths = [p for p in spec["paths"] if p.startswith("/v1/scenarios/{name}/") and "post" in spec["paths"][p]]
    assert "/v1/scenarios/{name}/compare" in paths
    assert ("/v1/scenarios/{name}/stress-test" in paths) == ("stress_test" in KINDS)
