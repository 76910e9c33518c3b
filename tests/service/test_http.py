"""The JSON API over HTTP: every endpoint, and a 422 with a path for every rule."""

from __future__ import annotations

import copy
import json

import pytest

from models import AllocationRequest, AllocationResult
from service import examples
from solvers import check_result


@pytest.fixture
def client(api):
    return api


def dla() -> dict:
    return copy.deepcopy(examples.catalogue()["dla-2025"]["request"])


def small() -> dict:
    return {
        "budget": 1_000_000,
        "minerals": [{"id": "co", "target": 20}],
        "suppliers": [
            {"id": "a", "mineral": "co", "country": "AU", "capacity": 15, "unit_price": 35_000},
            {"id": "b", "mineral": "co", "country": "CN", "capacity": 50, "unit_price": 29_000},
        ],
        "policy": {"tariffs": {"CN": 1.0}},
    }


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_examples_are_listed_and_served(client):
    listed = client.get("/v1/examples").json()
    assert [e["name"] for e in listed] == ["dla-2025", "dla-2025-disruption"]
    body = client.get("/v1/examples/dla-2025").json()
    assert body["notes"] and "illustrative" in body["notes"][0]
    AllocationRequest.model_validate(body["request"])


def test_unknown_example_is_404(client):
    response = client.get("/v1/examples/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_dla_example_solves_to_optimal(client):
    response = client.post("/v1/allocations", json=dla())
    assert response.status_code == 200
    result = AllocationResult.model_validate(response.json())
    assert result.status.value == "optimal"
    assert check_result(AllocationRequest.model_validate(dla()), result) == []
    by_mineral = {m.id: m for m in result.minerals}
    # The article's per-mineral budgets hold.
    assert by_mineral["cobalt"].spend <= 500e6 * (1 + 1e-9)
    assert by_mineral["antimony"].spend <= 245e6 * (1 + 1e-9)
    assert by_mineral["scandium"].spend <= 45e6 * (1 + 1e-9)
    # Indium's 222 t target is larger than what can be bought without breaking the CN cap.
    assert by_mineral["indium"].coverage < 1
    suppliers = {a.supplier for a in result.allocations if a.mineral == "scandium"}
    assert {"Rio Tinto", "APL Engineered Materials"} <= suppliers
    # $245M of antimony from US Antimony Corp., as in the filings.
    assert {a.supplier for a in result.allocations if a.mineral == "antimony"} == {"United States Antimony Corp."}
    indium = next(f for f in result.diagnostics if f.code == "target_not_covered" and f.mineral == "indium")
    assert "25% cap on CN is reached" in indium.message
    assert "every offer from outside CN is bought out" in indium.message


def test_readme_small_request(client):
    result = client.post("/v1/allocations", json=small()).json()
    assert result["status"] == "optimal"
    # 15 t from AU at $35k, 5 t from CN at $29k x 2 = $58k: $815,000.
    assert result["total_spend"] == pytest.approx(15 * 35_000 + 5 * 58_000)
    assert result["coverage_score"] == pytest.approx(1)


def test_min_cost_objective(client):
    body = small() | {"objective": "min_cost"}
    result = client.post("/v1/allocations", json=body).json()
    assert result["status"] == "optimal"
    assert result["coverage_score"] is None
    assert result["objective_value"] == pytest.approx(result["total_spend"])


def test_infeasible_request_is_a_200_with_diagnostics(client):
    body = small()
    body["minerals"][0]["min_quantity"] = 100
    response = client.post("/v1/allocations", json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["status"] == "infeasible"
    assert result["allocations"] == []
    finding = next(f for f in result["diagnostics"] if f["code"] == "floor_unmet")
    assert finding["mineral"] == "co"
    # $1M buys AU's 15 t ($525k) and (1M - 525k) / 58k t from CN: the budget, not the 65 t supply, binds.
    reachable = 15 + (1_000_000 - 15 * 35_000) / 58_000
    assert finding["achievable"] == pytest.approx(reachable)
    assert finding["shortfall"] == pytest.approx(100 - reachable)
    assert "under the budget" in finding["message"] and "65 t" in finding["message"]


def test_openapi_documents_the_contract(client):
    schema = client.get("/openapi.json").json()
    assert "/v1/allocations" in schema["paths"]
    request_schema = schema["components"]["schemas"]["AllocationRequest"]
    assert {"budget", "minerals", "suppliers"} <= set(request_schema["required"])
    assert client.get("/docs").status_code == 200


def _break(mutate):
    body = dla()
    mutate(body)
    return body


def _set(path, value):
    def mutate(body):
        target = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _tiers(*tiers):
    """Price tiers from (up_to, unit_price) pairs."""
    return [{"up_to": up_to, "unit_price": price} for up_to, price in tiers]


INVALID = {
    "unknown mineral": (
        _set(("suppliers", 3, "mineral"), "unobtainium"),
        "suppliers[3].mineral",
        "unknown mineral",
    ),
    "duplicate mineral id": (_set(("minerals", 1, "id"), "cobalt"), "minerals[1].id", "duplicate"),
    "duplicate supplier id": (_set(("suppliers", 2, "id"), "co-ca"), "suppliers[2].id", "duplicate"),
    "two offers from one company for one mineral": (
        _set(("suppliers", 1, "name"), "Canadian cobalt refinery"),
        "suppliers[1].name",
        "already has an offer",
    ),
    "both price forms": (
        _set(("suppliers", 0, "unit_price"), 30_000),
        "suppliers[0]",
        "exactly one of unit_price or price_tiers",
    ),
    "neither price form": (
        lambda b: b["suppliers"][1].pop("unit_price"),
        "suppliers[1]",
        "exactly one of unit_price or price_tiers",
    ),
    "unordered tiers": (
        _set(("suppliers", 0, "price_tiers"), _tiers((3000, 36_000), (2000, 34_000), (None, 33_000))),
        "suppliers[0].price_tiers[1].up_to",
        "larger than the previous",
    ),
    "open tier not last": (
        _set(("suppliers", 0, "price_tiers"), _tiers((None, 36_000), (6000, 34_000))),
        "suppliers[0].price_tiers[0].up_to",
        "only the last tier",
    ),
    "last tier short of capacity": (
        _set(("suppliers", 0, "price_tiers"), _tiers((2000, 36_000), (5000, 34_000))),
        "suppliers[0].price_tiers[1].up_to",
        "capacity is 6000",
    ),
    "min_order above capacity": (
        _set(("suppliers", 0, "min_order"), 7000),
        "suppliers[0].min_order",
        "larger than capacity",
    ),
    "negative capacity": (_set(("suppliers", 4, "capacity"), -5), "suppliers[4].capacity", "must be > 0"),
    "negative tariff": (_set(("policy", "tariffs", "CN"), -0.5), "policy.tariffs.CN", "must be >= 0"),
    "zero target": (_set(("minerals", 0, "target"), 0), "minerals[0].target", "must be > 0"),
    "floor above cap": (
        lambda b: b["minerals"][0].update(min_quantity=100, max_quantity=50),
        "minerals[0].min_quantity",
        "min_quantity (100) is larger than max_quantity (50)",
    ),
    "unknown field": (_set(("suppliers", 0, "colour"), "blue"), "suppliers[0].colour", "unknown field"),
    "unknown top-level field": (_set(("currency",), "USD"), "currency", "unknown field"),
    "bad country": (_set(("suppliers", 0, "country"), "XX"), "suppliers[0].country", "ISO 3166"),
    "bad objective": (_set(("objective",), "max_profit"), "objective", "must be one of"),
    "bad discount": (_set(("suppliers", 0, "discount"), "bulk"), "suppliers[0].discount", "must be one of"),
    "share above one": (_set(("policy", "max_supplier_share"), 1.5), "policy.max_supplier_share", "must be <= 1"),
    "max_suppliers zero": (_set(("policy", "max_suppliers"), 0), "policy.max_suppliers", "must be >= 1"),
    "cap on unknown mineral": (
        _set(("policy", "country_caps"), [{"countries": ["CN"], "max_share": 0.5, "minerals": ["zinc"]}]),
        "policy.country_caps[0].minerals[0]",
        "unknown mineral",
    ),
    "text where a number belongs": (_set(("budget",), "lots"), "budget", "must be a number"),
    "a number as text": (_set(("suppliers", 0, "capacity"), "6000"), "suppliers[0].capacity", "must be a number"),
    "true as a number": (_set(("budget",), True), "budget", "must be a number"),
    "true as a share": (_set(("policy", "max_supplier_share"), True), "policy.max_supplier_share", "must be a number"),
    "a whole number as a fraction": (_set(("policy", "max_suppliers"), 2.5), "policy.max_suppliers", "whole number"),
    "true as a tariff": (_set(("policy", "tariffs", "CN"), True), "policy.tariffs.CN", "must be a number"),
    "an unnamed offer whose id is another's name": (
        lambda b: b["suppliers"].append({**b["suppliers"][0], "id": b["suppliers"][0]["name"], "name": None}),
        f"suppliers[{len(examples.catalogue()['dla-2025']['request']['suppliers'])}].id",
        "(its id, as it has no name) already has an offer",
    ),
    "too many tiers": (
        _set(("suppliers", 0, "price_tiers"), _tiers(*[(100 * (k + 1), 30_000) for k in range(10)], (None, 1))),
        "suppliers[0].price_tiers",
        "at most 10",
    ),
    "no minerals": (_set(("minerals",), []), "minerals", "at least 1"),
    "missing budget": (lambda b: b.pop("budget"), "budget", "required"),
    "one country's tariff twice": (_set(("policy", "tariffs", "cn"), 0.5), "policy.tariffs.cn", "given twice"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_each_invalid_request_gets_a_422_with_its_path(client, case):
    mutate, path, words = INVALID[case]
    response = client.post("/v1/allocations", json=_break(mutate))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    matching = [p for p in body["problems"] if p["path"] == path]
    assert matching, f"no problem at {path}: {body['problems']}"
    assert any(words in p["message"] for p in matching), matching


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_rejected(client, literal):
    text = json.dumps(dla()).replace('"budget": 1000000000', f'"budget": {literal}')
    response = client.post("/v1/allocations", content=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    problems = response.json()["problems"]
    # Either refused as non-standard JSON or as a non-finite budget: never accepted, never a 500.
    assert any(p["path"] in ("budget", "(request)") for p in problems), problems


def test_every_problem_is_listed_at_once(client):
    body = dla()
    body["suppliers"][0]["capacity"] = -1
    body["suppliers"][3]["mineral"] = "unobtainium"
    body["minerals"][2]["weight"] = -2
    body["policy"]["tariffs"]["ZZ"] = 0.1
    paths = {p["path"] for p in client.post("/v1/allocations", json=body).json()["problems"]}
    assert {"suppliers[0].capacity", "suppliers[3].mineral", "minerals[2].weight", "policy.tariffs.ZZ"} <= paths


def test_too_many_minerals(client):
    body = small()
    body["minerals"] = [{"id": f"m{i}", "target": 1} for i in range(2_001)]
    body["suppliers"][0]["mineral"] = body["suppliers"][1]["mineral"] = "m0"
    response = client.post("/v1/allocations", json=body)
    assert response.status_code == 422
    assert any(p["path"] == "minerals" and "at most 2000" in p["message"] for p in response.json()["problems"])


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ("", "application/json"),
        ('"budget"', "application/json"),
    ],
)
def test_malformed_bodies_are_422_never_500(client, content, content_type):
    response = client.post("/v1/allocations", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 422
    assert response.json()["problems"]


def test_a_whole_number_written_as_a_float_is_an_integer(client):
    # json.dumps writes 3.0 for a float: the integer field takes it (but not true, nor "3").
    body = _break(lambda b: b["policy"].update(max_suppliers=3.0))
    response = client.post("/v1/allocations", json=body)
    assert response.status_code == 200, response.text
    assert max(m["suppliers_used"] for m in response.json()["minerals"]) <= 3
