"""Browser tests of the page's views that call endpoints merged from other branches.

Each test needs the endpoint named in the table (all are on the server now).

| test                                                      | needs                                          |
| --------------------------------------------------------- | ---------------------------------------------- |
| test_a_variant_added_in_the_forms_is_compared_side_by_side | POST /v1/comparisons                           |
| test_the_budget_frontier_is_drawn_with_its_knees          | POST /v1/frontiers                             |
| test_the_price_of_each_rule_is_listed                     | POST /v1/policy-costs                          |
| test_the_stress_test_shows_percentiles_and_worst_draws    | POST /v1/stress-tests                          |
| test_a_long_job_shows_progress_and_is_cancelled           | POST /v1/jobs, GET/DELETE /v1/jobs/{id}        |
| test_a_scenario_saved_in_the_page_loads_back              | PUT/GET /v1/scenarios/{name}, GET /v1/scenarios |
| test_a_stale_scenario_is_not_overwritten                  | the same, with ETag and If-Match (412)         |

All are checked against the JSON API's own answer to the same body, and by axe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from service import examples
from tests.reliability.conftest import wait_until
from tests.reliability.stress_instances import hard_request
from tests.service.page.conftest import axe_violations, load_example, number, table_rows

pytestmark = pytest.mark.slow


def dla() -> dict[str, Any]:
    return examples.catalogue()["dla-2025"]["request"]


def percent(text: str) -> float:
    return float(text.split()[0].rstrip("%").replace(",", "")) / 100


def open_whatif(page: Page) -> None:
    load_example(page)
    page.get_by_role("tab", name="What-if").click()


def test_a_variant_added_in_the_forms_is_compared_side_by_side(page: Page, api: httpx.Client) -> None:
    """Needs POST /v1/comparisons."""
    open_whatif(page)
    page.get_by_label("Variant name").fill("no-china")
    page.get_by_label("Change", exact=True).select_option("exclude_countries")
    page.get_by_label("Countries (comma-separated)").fill("CN")
    page.get_by_role("button", name="Add variant").click()
    page.get_by_label("Variant name").fill("more money")
    page.get_by_label("Change", exact=True).select_option("scale_budget")
    page.get_by_label("Factor (1.1 = +10%)").fill("1.2")
    page.get_by_role("button", name="Add variant").click()
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("table", name="Comparison")).to_be_visible(timeout=60_000)

    body = {
        "request": dla(),
        "variants": [
            {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]},
            {"name": "more money", "changes": [{"op": "scale_budget", "factor": 1.2}]},
        ],
    }
    expected = api.post("/v1/comparisons", json=body).json()["scenarios"]
    rows = table_rows(page, "Comparison")
    assert [r["Scenario"] for r in rows] == [s["name"] for s in expected]
    for row, scenario in zip(rows, expected, strict=True):
        assert percent(row["Coverage score"]) == pytest.approx(scenario["result"]["coverage_score"], abs=5e-4)
        assert number(row["Total spend"]) == pytest.approx(scenario["result"]["total_spend"], abs=1)
    assert "exclude CN" in rows[1]["Changes"]
    assert axe_violations(page) == []


def test_the_budget_frontier_is_drawn_with_its_knees(page: Page, api: httpx.Client) -> None:
    """Needs POST /v1/frontiers."""
    open_whatif(page)
    page.get_by_label("From budget").fill("200000000")
    page.get_by_label("To budget").fill("1400000000")
    page.get_by_label("Points").fill("5")
    page.get_by_role("button", name="Draw the frontier").click()
    expect(page.get_by_role("table", name="Frontier")).to_be_visible(timeout=60_000)
    expected = api.post(
        "/v1/frontiers", json={"request": dla(), "from": 200_000_000, "to": 1_400_000_000, "points": 5}
    ).json()
    rows = table_rows(page, "Frontier")
    assert [number(r["Budget"]) for r in rows] == pytest.approx([p["budget"] for p in expected["points"]])
    for row, point in zip(rows, expected["points"], strict=True):
        assert percent(row["Coverage score"]) == pytest.approx(point["coverage_score"], abs=5e-4)
        assert (row["Knee"] == "knee") == (point["budget"] in expected["knees"])
    expect(page.locator("#frontier-chart")).to_be_visible()
    assert axe_violations(page) == []


def test_the_price_of_each_rule_is_listed(page: Page, api: httpx.Client) -> None:
    """Needs POST /v1/policy-costs."""
    open_whatif(page)
    page.get_by_role("button", name="Price the rules").click()
    expect(page.get_by_role("table", name="Rule costs")).to_be_visible(timeout=60_000)
    expected = api.post("/v1/policy-costs", json={"request": dla()}).json()["rules"]
    rows = table_rows(page, "Rule costs")
    assert [r["Rule"] for r in rows] == [r["rule"] for r in expected]
    assert any(r["rule"].startswith("tariffs.CN") for r in expected), "the 100% tariff on CN is a rule in force"
    for row, rule in zip(rows, expected, strict=True):
        assert percent(row["Coverage without it"]) == pytest.approx(rule["coverage_score"], abs=5e-4)
    assert axe_violations(page) == []


def test_the_stress_test_shows_percentiles_and_worst_draws(page: Page, api: httpx.Client) -> None:
    """Needs POST /v1/stress-tests."""
    open_whatif(page)
    page.get_by_label("Country cut-off probabilities (e.g. CN=0.5, RU=0.3)").fill("CN=0.5")
    page.get_by_label("Each offer's failure probability").fill("0.05")
    page.get_by_label("Draws", exact=True).fill("300")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Run the stress test").click()
    expect(page.get_by_role("table", name="Stress test")).to_be_visible(timeout=120_000)
    body = {
        "request": dla(),
        "plan": "optimal",
        "disruptions": {"countries": {"CN": 0.5}, "supplier_failure": 0.05},
        "draws": 300,
        "seed": 7,
        "mode": "hold",
        "details": True,
    }
    expected = api.post("/v1/stress-tests", json=body).json()["hold"]
    score = table_rows(page, "Stress test")[0]
    assert percent(score["Mean"]) == pytest.approx(expected["coverage_score"]["mean"], abs=5e-4)
    assert percent(score["5th percentile"]) == pytest.approx(expected["coverage_score"]["p5"], abs=5e-4)
    worst = table_rows(page, "Worst draws")
    assert [int(r["Draw"]) for r in worst] == [w["index"] for w in expected["worst"]]
    expect(page.locator("#stress-chart")).to_be_visible()
    assert axe_violations(page) == []


def test_a_long_job_shows_progress_and_is_cancelled(page: Page, api: httpx.Client, tmp_path: Path) -> None:
    """Needs POST /v1/jobs (kind "allocation"), GET /v1/jobs/{id} and DELETE /v1/jobs/{id}."""
    path = tmp_path / "hard.json"
    path.write_text(json.dumps(hard_request(30.0)))
    page.get_by_label("Request (.json)").set_input_files(path)
    page.get_by_text("Options", exact=True).click()
    page.get_by_label("Run as a background job").check()
    page.get_by_role("button", name="Solve", exact=True).click()
    status = page.locator("#job-status")
    expect(status).to_contain_text("running", timeout=30_000)
    job_id = status.text_content().split(":")[0].removeprefix("Job ").strip()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#solve-status")).to_have_text("Cancelled: nothing was solved.", timeout=15_000)
    wait_until(lambda: api.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled", timeout=15)
    expect(page.get_by_role("button", name="Solve", exact=True)).to_be_enabled()


def test_a_scenario_saved_in_the_page_loads_back(page: Page, api: httpx.Client) -> None:
    """Needs PUT /v1/scenarios/{name}, GET /v1/scenarios/{name} and GET /v1/scenarios."""
    load_example(page)
    page.get_by_label("Budget (total, any currency)").fill("750000000")
    page.get_by_label("Budget (total, any currency)").press("Tab")
    page.get_by_role("tab", name="Scenarios").click()
    page.get_by_label("Scenario name").fill("page-round-trip")
    page.get_by_label("Description").fill("DLA at $750M")
    page.get_by_role("button", name="Save scenario").click()
    expect(page.locator("#sc-status")).to_have_text('Saved "page-round-trip".')
    stored = api.get("/v1/scenarios/page-round-trip").json()
    assert stored["request"]["budget"] == 750_000_000
    assert axe_violations(page) == []

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_role("tab", name="Scenarios").click()
    page.get_by_role("button", name="Load scenario page-round-trip").click()
    expect(page.get_by_label("Budget (total, any currency)")).to_have_value("750000000")


def test_a_stale_scenario_is_not_overwritten(page: Page, api: httpx.Client) -> None:
    """Needs PUT/GET /v1/scenarios/{name} with ETag and If-Match (412 on a stale version)."""
    api.put("/v1/scenarios/page-stale", json={"request": dla(), "variants": [], "description": "first"})
    page.get_by_role("tab", name="Scenarios").click()
    page.get_by_role("button", name="Refresh the list").click()
    page.get_by_role("button", name="Load scenario page-stale").click()
    expect(page.locator("#source")).to_contain_text('Loaded the scenario "page-stale"')  # its version is held
    newer = {"request": {**dla(), "budget": 900_000_000}, "variants": [], "description": "someone else's"}
    assert api.put("/v1/scenarios/page-stale", json=newer).status_code in (200, 201)
    page.get_by_role("tab", name="Scenarios").click()
    page.get_by_role("button", name="Save scenario").click()
    expect(page.locator("#sc-status")).to_contain_text("saved by someone else")
    assert api.get("/v1/scenarios/page-stale").json()["request"]["budget"] == 900_000_000
