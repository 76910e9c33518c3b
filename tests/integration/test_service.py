"""The running service, through the client: health, examples, each objective,
infeasibility, invalid requests, several requests at once."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import httpx
import pytest

from models import AllocationRequest, AllocationResult
from service.client import (
    AsyncStockpileClient,
    InvalidRequestError,
    NotFoundError,
    StockpileClient,
)
from tests.integration import cases
from tests.integration.conftest import API_KEY, URL

TOL = 1e-6


def by_offer(result: AllocationResult) -> dict[str, float]:
    return {a.supplier_id: a.quantity for a in result.allocations}


def test_health_and_readiness(client: StockpileClient) -> None:
    assert client.health() is True
    assert client.ready() is True


def test_examples_list_the_dla_round(client: StockpileClient) -> None:
    names = [e.name for e in client.examples()]
    assert "dla-2025" in names


def test_unknown_example_is_404(client: StockpileClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.example("no-such-example")
    assert caught.value.status_code == 404
    assert caught.value.error == "not_found"


def test_dla_example_is_solved_within_budget(client: StockpileClient, dla: AllocationRequest) -> None:
    assert dla.budget == 1_000_000_000
    result = client.allocate(dla)
    assert result.status.value == "optimal"
    assert result.budget == dla.budget
    assert 0 < result.total_spend <= dla.budget * (1 + TOL)
    assert math.isclose(sum(a.spend for a in result.allocations), result.total_spend, rel_tol=1e-9)
    assert result.coverage_score is not None and 0 < result.coverage_score <= 1 + TOL
    offers = {s.id: s for s in dla.suppliers}
    excluded = set(dla.policy.excluded_countries)
    for line in result.allocations:
        offer = offers[line.supplier_id]
        assert line.mineral == offer.mineral
        assert line.quantity <= offer.capacity * (1 + TOL)
        assert line.country not in excluded
    assert {m.id for m in result.minerals} == {m.id for m in dla.minerals}


def test_max_coverage_buys_the_cheapest_landed_tonnes_first(client: StockpileClient) -> None:
    result = client.allocate(cases.MAX_COVERAGE)
    assert result.status.value == "optimal"
    assert result.objective.value == "max_coverage"
    assert result.coverage_score == pytest.approx(18.333333 / 20, rel=1e-5)
    assert result.total_spend == pytest.approx(2_000, rel=1e-6)
    assert by_offer(result) == pytest.approx({"au": 15, "cn": 500 / 150}, rel=1e-6)
    cn = next(a for a in result.allocations if a.supplier_id == "cn")
    assert cn.tariff_cost == pytest.approx(0.5 * 100 * 500 / 150, rel=1e-6)


def test_min_cost_reaches_the_target_for_the_least_money(client: StockpileClient) -> None:
    result = client.allocate(cases.MIN_COST)
    assert result.status.value == "optimal"
    assert result.objective.value == "min_cost"
    assert result.total_spend == pytest.approx(2_250, rel=1e-6)
    assert result.objective_value == pytest.approx(2_250, rel=1e-6)
    assert by_offer(result) == pytest.approx({"au": 15, "cn": 5}, rel=1e-6)
    assert result.budget_remaining == pytest.approx(750, rel=1e-6)


def test_infeasible_request_says_what_cannot_be_met(client: StockpileClient) -> None:
    result = client.allocate(cases.INFEASIBLE)
    assert result.status.value == "infeasible"
    assert result.allocations == []
    errors = [f for f in result.diagnostics if f.severity.value == "error"]
    assert errors, result.diagnostics
    finding = next(f for f in errors if f.mineral == "cobalt")
    assert finding.required == pytest.approx(20)
    assert finding.achievable == pytest.approx(18.333333, rel=1e-5)
    assert finding.shortfall == pytest.approx(1.666667, rel=1e-5)


def _valid() -> dict[str, Any]:
    return cases.cobalt(2_000, "max_coverage")


def _with(change: Any) -> dict[str, Any]:
    body = _valid()
    change(body)
    return body


INVALID: list[tuple[str, dict[str, Any], set[str]]] = [
    ("empty body", {}, {"budget", "minerals", "suppliers"}),
    ("negative budget", _with(lambda b: b.update(budget=-5)), {"budget"}),
    ("unknown objective", _with(lambda b: b.update(objective="cheapest")), {"objective"}),
    ("unknown field", _with(lambda b: b.update(bogus=1)), {"bogus"}),
    (
        "no minerals",  # and so both offers name an unknown mineral
        _with(lambda b: b.update(minerals=[])),
        {"minerals", "suppliers[0].mineral", "suppliers[1].mineral"},
    ),
    ("unknown mineral", _with(lambda b: b["suppliers"][0].update(mineral="tin")), {"suppliers[0].mineral"}),
    (
        "duplicate offer id",  # reported once: not also as the same (unnamed) company offering cobalt twice
        _with(lambda b: b["suppliers"][1].update(id="au")),
        {"suppliers[1].id"},
    ),
    ("bad country code", _with(lambda b: b["suppliers"][0].update(country="XX")), {"suppliers[0].country"}),
    ("two price forms", _with(lambda b: b["suppliers"][0].update(price_tiers=[{"unit_price": 90}])), {"suppliers[0]"}),
    ("min order above capacity", _with(lambda b: b["suppliers"][0].update(min_order=99)), {"suppliers[0].min_order"}),
    ("price as text", _with(lambda b: b["suppliers"][1].update(unit_price="cheap")), {"suppliers[1].unit_price"}),
    ("share above one", _with(lambda b: b["policy"].update(max_supplier_share=1.5)), {"policy.max_supplier_share"}),
    (
        "three problems at once",
        _with(
            lambda b: (b.update(budget=0), b["minerals"][0].update(target=-1), b["suppliers"][1].update(country="ZZ"))
        ),
        {"budget", "minerals[0].target", "suppliers[1].country"},
    ),
]


@pytest.mark.parametrize(("body", "paths"), [pytest.param(b, p, id=name) for name, b, p in INVALID])
def test_invalid_requests_get_422_with_every_problem(
    client: StockpileClient, body: dict[str, Any], paths: set[str]
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.allocate(body)
    error = caught.value
    assert error.status_code == 422
    assert error.error == "invalid_request"
    reported = {p.path for p in error.problems}
    assert reported == paths, error.problems
    assert all(p.message for p in error.problems)


def test_several_requests_at_once(dla: AllocationRequest) -> None:
    """Eight solves posted together (more than the workers) all come back right, and
    /healthz keeps answering quickly while they run."""
    expected = {
        "max_coverage": ("optimal", 2_000),
        "min_cost": ("optimal", 2_250),
        "infeasible": ("infeasible", 0),
    }
    bodies = [("max_coverage", cases.MAX_COVERAGE), ("min_cost", cases.MIN_COST), ("infeasible", cases.INFEASIBLE)]

    async def run() -> tuple[list[Any], list[float]]:
        async with AsyncStockpileClient(URL, timeout=120, api_key=API_KEY) as client:
            jobs = [client.allocate(body) for _, body in bodies * 2] + [client.allocate(dla), client.allocate(dla)]
            solving = asyncio.gather(*jobs)
            health_times = []
            while not solving.done():
                t = time.monotonic()
                assert await client.health()
                health_times.append(time.monotonic() - t)
                await asyncio.sleep(0.02)
            return await solving, health_times

    results, health_times = asyncio.run(run())
    for (name, _), result in zip(bodies * 2, results[:6], strict=True):
        status, spend = expected[name]
        assert result.status.value == status, name
        assert result.total_spend == pytest.approx(spend, rel=1e-6, abs=1e-6), name
    dla_a, dla_b = results[6:]
    assert dla_a.status.value == dla_b.status.value == "optimal"
    assert dla_a.total_spend == pytest.approx(dla_b.total_spend, rel=1e-9)
    assert health_times, "the solves finished before /healthz was asked once"
    assert max(health_times) < 1.0, health_times


def test_what_if_analyses_over_the_wire(client: StockpileClient) -> None:
    request = client.example("dla-2025")
    body = {"request": request.model_dump(mode="json")}
    no_china = {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]}
    comparison = client.compare({**body, "variants": [no_china]})
    assert [s.name for s in comparison.scenarios] == ["base", "no-china"]
    assert all(line.country != "CN" for line in comparison.scenarios[1].result.allocations)
    frontier = client.frontier({**body, "from": 1e8, "to": 2e9, "points": 5})
    scores = [p.coverage_score for p in frontier.points]
    assert scores == sorted(scores)
    costs = client.policy_costs(body)
    assert "tariffs.CN" in {r.rule for r in costs.rules}
    with pytest.raises(InvalidRequestError) as exc:
        client.compare({**body, "variants": [{"name": "x", "changes": [{"op": "scale_prices", "factor": 0}]}]})
    assert [p.path for p in exc.value.problems] == ["variants[0].changes[0].factor"]


def test_the_image_serves_the_web_page_and_its_files_without_a_key() -> None:
    with httpx.Client(base_url=URL, timeout=30) as http:
        page = http.get("/")
        assert page.status_code == 200 and 'src="/page/static/app.js"' in page.text
        for name in ("app.js", "editor.js", "page.css", "vendor/chart.umd.min.js"):
            assert http.get(f"/page/static/{name}").status_code == 200, name
