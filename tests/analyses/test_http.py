"""The what-if endpoints over HTTP: answers, and 422s with paths for what cannot be solved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import AllocationRequest, AllocationResult
from models.analyses import ComparisonResult, FrontierResult, PolicyCostsResult

DLA = json.loads((Path(__file__).parents[2] / "service" / "examples" / "dla-2025.json").read_text())["request"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_CHINA = {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]}


def paths(response) -> set[str]:
    assert response.status_code == 422, response.text
    return {p["path"] for p in response.json()["problems"]}


def test_apply_returns_the_changed_request(api):
    body = {"request": DLA, "changes": [{"op": "scale_budget", "factor": 0.5}, NO_CHINA["changes"][0]]}
    response = api.post("/v1/changes/apply", json=body)
    assert response.status_code == 200
    changed = AllocationRequest.model_validate(response.json())
    assert changed.budget == DLA["budget"] / 2 and "CN" in changed.policy.excluded_countries


def test_a_comparison_answers_the_base_and_each_variant(api):
    response = api.post("/v1/comparisons", json={"request": DLA, "variants": [NO_CHINA]})
    assert response.status_code == 200, response.text
    result = ComparisonResult.model_validate(response.json())
    assert [s.name for s in result.scenarios] == ["base", "no-china"]
    alone = AllocationResult.model_validate(api.post("/v1/allocations", json=DLA).json())
    assert result.scenarios[0].result.coverage_score == pytest.approx(alone.coverage_score, abs=1e-6)
    assert result.scenarios[1].delta.coverage_score < 0


def test_a_frontier_and_its_knees(api):
    response = api.post("/v1/frontiers", json={"request": DLA, "from": 1e8, "to": 2e9, "points": 5})
    assert response.status_code == 200, response.text
    result = FrontierResult.model_validate(response.json())
    assert [p.budget for p in result.points] == pytest.approx([1e8, 5.75e8, 1.05e9, 1.525e9, 2e9])
    assert all(k in [p.budget for p in result.points] for k in result.knees)


def test_policy_costs(api):
    response = api.post("/v1/policy-costs", json={"request": DLA})
    assert response.status_code == 200, response.text
    result = PolicyCostsResult.model_validate(response.json())
    assert {"tariffs.CN", "tariffs.ID", "country_caps[0]"} <= {r.rule for r in result.rules}


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            "/v1/comparisons",
            {"request": DLA, "variants": [{"name": "x", "changes": [{"op": "warp"}]}]},
            "variants[0].changes[0]",
        ),
        (
            "/v1/comparisons",
            {
                "request": DLA,
                "variants": [{"name": "x", "changes": [{"op": "scale_prices", "factor": 2, "supplier": "nope"}]}],
            },
            "variants[0].changes[0].supplier",
        ),
        (
            "/v1/comparisons",
            {
                "request": DLA,
                "variants": [{"name": "x", "changes": [{"op": "set_policy", "field": "colour", "value": 1}]}],
            },
            "variants[0].changes[0].field",
        ),
        ("/v1/comparisons", {"request": DLA, "variants": [{"name": "base", "changes": []}]}, "variants[0].name"),
        ("/v1/comparisons", {"request": DLA, "variants": []}, "variants"),
        ("/v1/frontiers", {"request": DLA, "from": 1e8, "to": 2e9, "points": 102}, "points"),
        ("/v1/frontiers", {"request": DLA, "from": 2e9, "to": 1e8, "points": 3}, "to"),
        ("/v1/frontiers", {"request": DLA, "budgets": [1e8] * 102}, "budgets"),
        ("/v1/frontiers", {"request": DLA}, "(request)"),
        ("/v1/policy-costs", {"request": {**DLA, "budget": -1}}, "request.budget"),
        (
            "/v1/changes/apply",
            {"request": DLA, "changes": [{"op": "set_budget", "value": "a lot"}]},
            "changes[0].value",
        ),
    ],
)
def test_what_cannot_be_solved_is_a_422_naming_its_path(api, path, body, expected):
    assert expected in paths(api.post(path, json=body))


def test_more_variants_than_the_server_allows_is_a_422(api):
    limit = api.app.state.settings.max_variants
    variants = [{"name": f"v{k}", "changes": [{"op": "scale_budget", "factor": 1 + k / 100}]} for k in range(limit + 1)]
    response = api.post("/v1/comparisons", json={"request": DLA, "variants": variants})
    assert paths(response) == {"variants"}


def test_a_comparison_as_a_workbook_and_as_csv(api):
    from io import BytesIO

    from openpyxl import load_workbook

    body = {"request": DLA, "variants": [NO_CHINA]}
    xlsx = api.post("/v1/comparisons", json=body, headers={"Accept": XLSX})
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    assert {"Scenario summary", "Allocations", "Minerals"} <= set(load_workbook(BytesIO(xlsx.content)).sheetnames)
    table = api.post("/v1/comparisons", json=body, headers={"Accept": "text/csv"})
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    assert "no-china" in table.text


def test_a_frontier_as_a_chart(api):
    body = {"request": DLA, "budgets": [1e8, 5e8, 1e9]}
    svg = api.post("/v1/frontiers", json=body, headers={"Accept": "image/svg+xml"})
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    png = api.post("/v1/frontiers", json=body, headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert api.post("/v1/frontiers", json=body, headers={"Accept": "application/json, */*"}).json()["points"]


def test_policy_costs_as_csv(api):
    table = api.post("/v1/policy-costs", json={"request": DLA}, headers={"Accept": "text/csv"})
    assert table.status_code == 200 and "tariffs.CN" in table.text
