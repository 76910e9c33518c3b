"""Saved scenarios over HTTP: versions, ETags, runs as jobs, spreadsheet endpoints, tokens."""

from __future__ import annotations

import logging
import threading

import pytest
from fastapi.testclient import TestClient

from tests.service.jobs.conftest import app_client, finished, small_request


def _save(client: TestClient, name: str = "dla", **headers: str):
    return client.put(f"/v1/scenarios/{name}", json={"request": small_request(), "description": "d"}, headers=headers)


def test_each_save_is_a_version_and_a_stale_if_match_is_refused(client: TestClient) -> None:
    first = _save(client)
    assert first.status_code == 201 and first.headers["etag"] == '"v1"' and first.json()["version"] == 1
    second = client.put(
        "/v1/scenarios/dla", json={"request": small_request(2e6)}, headers={"If-Match": first.headers["etag"]}
    )
    assert second.status_code == 200 and second.json()["version"] == 2
    stale = client.put("/v1/scenarios/dla", json={"request": small_request(3e6)}, headers={"If-Match": '"v1"'})
    assert stale.status_code == 412 and stale.json()["error"] == "precondition_failed"
    assert stale.headers["etag"] == '"v2"'
    assert _save(client, **{"If-None-Match": "*"}).status_code == 412  # "create", but it exists
    current = client.get("/v1/scenarios/dla")
    assert current.headers["etag"] == '"v2"' and current.json()["request"]["budget"] == 2e6
    assert client.get("/v1/scenarios/dla/versions/1").json()["request"]["budget"] == 1e6
    assert client.get("/v1/scenarios/dla/versions/3").status_code == 404
    assert [s["name"] for s in client.get("/v1/scenarios").json()] == ["dla"]
    assert client.delete("/v1/scenarios/dla", headers={"If-Match": '"v1"'}).status_code == 412
    assert client.delete("/v1/scenarios/dla", headers={"If-Match": '"v2"'}).status_code == 204
    for r in (
        client.get("/v1/scenarios/dla"),
        client.delete("/v1/scenarios/dla"),
        client.post("/v1/scenarios/dla/solve"),
    ):
        assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_bad_scenarios_are_refused_with_paths(client: TestClient) -> None:
    bad = small_request()
    bad["budget"] = 0
    r = client.put("/v1/scenarios/x", json={"request": bad})
    assert r.status_code == 422 and [p["path"] for p in r.json()["problems"]] == ["request.budget"]
    assert client.put("/v1/scenarios/-x", json={"request": small_request()}).status_code == 422


def test_if_match_races_lose_no_update(database_url: str) -> None:
    with app_client(database_url) as client:
        _save(client, "race")
        won: list[int] = []

        def writer(n: int) -> None:
            for _ in range(4):
                while True:
                    tag = client.get("/v1/scenarios/race").headers["etag"]
                    body = {"request": small_request(), "description": f"{n}"}
                    r = client.put("/v1/scenarios/race", json=body, headers={"If-Match": tag})
                    if r.status_code in (200, 201):
                        won.append(r.json()["version"])
                        break
                    assert r.status_code == 412

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(won) == list(range(2, 22))  # 20 saves, 20 versions, none overwritten
        assert client.get("/v1/scenarios/race").json()["version"] == 21


def test_solving_a_scenario_runs_its_stored_version_as_a_job(client: TestClient) -> None:
    _save(client)
    client.put("/v1/scenarios/dla", json={"request": small_request(5e5)})
    r = client.post("/v1/scenarios/dla/solve")
    assert r.status_code == 202
    job = finished(client, r.json()["id"])
    assert job["status"] == "succeeded" and job["scenario"] == "dla" and job["scenario_version"] == 2
    assert client.get(job["result_url"]).json()["budget"] == 5e5


def test_a_scenarios_variants_are_compared_and_its_frontier_traced_as_jobs(client: TestClient) -> None:
    no_china = {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]}
    saved = client.put("/v1/scenarios/what-if", json={"request": small_request(), "variants": [no_china]})
    assert saved.status_code == 201, saved.text
    job = finished(client, client.post("/v1/scenarios/what-if/compare").json()["id"])
    assert job["status"] == "succeeded" and job["kind"] == "comparison", job
    scenarios = client.get(job["result_url"]).json()["scenarios"]
    assert [s["name"] for s in scenarios] == ["base", "no-china"]
    assert all(line["country"] != "CN" for line in scenarios[1]["result"]["allocations"])
    r = client.post("/v1/scenarios/what-if/frontier", json={"budgets": [2e5, 1e6]})
    job = finished(client, r.json()["id"])
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    points = client.get(job["result_url"]).json()["points"]
    assert [p["budget"] for p in points] == [2e5, 1e6]


def test_a_scenarios_variants_must_apply_to_its_request(client: TestClient) -> None:
    bad = {"name": "x", "changes": [{"op": "scale_prices", "factor": 2, "supplier": "nope"}]}
    r = client.put("/v1/scenarios/bad", json={"request": small_request(), "variants": [bad]})
    assert r.status_code == 422
    assert [p["path"] for p in r.json()["problems"]] == ["variants[0].changes[0].supplier"]


def test_a_cell_reads_one_number_with_overrides_and_the_cache_solves_each_question_once(client: TestClient) -> None:
    _save(client)
    direct = client.post("/v1/allocations", json=small_request(5e5)).json()
    r = client.get("/v1/scenarios/dla/value", params={"metric": "coverage_score", "budget": "5e5"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert float(r.text) == direct["coverage_score"]
    cache = client.app.state.scenarios.cache
    solves = cache.solves
    for metric in ("coverage_score", "total_spend", "coverage:co", "spend:sb", "quantity:b"):
        client.get("/v1/scenarios/dla/value", params={"metric": metric, "budget": "5e5"})
    assert cache.solves == solves  # the same question: no new solve
    spend = float(client.get("/v1/scenarios/dla/value", params={"metric": "total_spend", "budget": "5e5"}).text)
    assert spend == direct["total_spend"]
    bought_b = sum(a["quantity"] for a in direct["allocations"] if a["supplier_id"] == "b")
    assert float(client.get("/v1/scenarios/dla/value?metric=quantity:b&budget=5e5").text) == bought_b
    no_cn = float(client.get("/v1/scenarios/dla/value?metric=quantity:b&exclude=CN").text)
    assert no_cn == 0.0 and cache.solves == solves + 1
    tariffed = client.post("/v1/allocations", json={**small_request(), "policy": {"tariffs": {"CN": 0.5}}}).json()[
        "total_spend"
    ]
    assert float(client.get("/v1/scenarios/dla/value?metric=total_spend&tariff.CN=0.5").text) == tariffed
    table = client.get("/v1/scenarios/dla/allocation.csv?budget=5e5")
    assert table.status_code == 200 and len(table.text.splitlines()) == len(direct["allocations"]) + 1
    summary = client.get("/v1/scenarios/dla/summary.csv?budget=5e5").text.splitlines()
    assert summary[0].startswith("mineral,") and [line.split(",")[0] for line in summary[1:]] == ["co", "sb"]
    for query in ("metric=nonsense", "metric=coverage:xx", "metric=coverage_score&budget=abc", "metric=x&colour=red"):
        r = client.get(f"/v1/scenarios/dla/value?{query}")
        assert r.status_code == 422, query
        assert all(p["path"].startswith("query") for p in r.json()["problems"])


def test_tokens_open_the_cell_endpoints_only_and_can_be_revoked(database_url: str, caplog) -> None:
    caplog.set_level(logging.INFO, logger="stockpile")
    with app_client(database_url, api_keys="k1") as client:
        key = {"X-API-Key": "k1"}
        client.put("/v1/scenarios/dla", json={"request": small_request()}, headers=key)
        client.put("/v1/scenarios/other", json={"request": small_request()}, headers=key)
        assert client.post("/v1/scenarios/dla/tokens").status_code == 401
        made = client.post("/v1/scenarios/dla/tokens", headers=key).json()
        token = made["token"]
        assert client.get(f"/v1/scenarios/dla/value?metric=coverage_score&token={token}").status_code == 200
        assert client.get(f"/v1/scenarios/dla/summary.csv?token={token}").status_code == 200
        assert client.get(f"/v1/scenarios/dla/allocation.csv?token={token}").status_code == 200
        # LibreOffice asks OPTIONS first and gives up on a 401
        assert client.options(f"/v1/scenarios/dla/value?token={token}").status_code == 405
        # nowhere else, and not for another scenario
        assert client.get(f"/v1/scenarios/dla?token={token}").status_code == 401
        assert client.get(f"/v1/jobs?token={token}").status_code == 401
        assert client.get(f"/v1/scenarios/other/value?metric=coverage_score&token={token}").status_code == 401
        assert client.get("/v1/scenarios/dla/value?metric=coverage_score&token=spt_wrong").status_code == 401
        assert client.get("/v1/scenarios/dla/value?metric=coverage_score").status_code == 401
        listed = client.get("/v1/scenarios/dla/tokens", headers=key).json()
        assert [t["id"] for t in listed] == [made["id"]] and listed[0]["token"] is None  # never shown again
        assert client.delete(f"/v1/scenarios/dla/tokens/{made['id']}", headers=key).status_code == 204
        r = client.get(f"/v1/scenarios/dla/value?metric=coverage_score&token={token}")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    logged = [str(record.__dict__) for record in caplog.records]
    assert any("/v1/scenarios/dla/value" in line for line in logged)  # the requests were logged ...
    assert not any(token in line for line in logged)  # ... without their token


def test_a_scenario_deleted_and_saved_again_is_not_answered_from_the_cache(client: TestClient) -> None:
    _save(client)
    first = float(client.get("/v1/scenarios/dla/value?metric=total_spend").text)
    assert client.delete("/v1/scenarios/dla").status_code == 204
    client.put("/v1/scenarios/dla", json={"request": small_request(3e5)})  # version 1 again
    again = float(client.get("/v1/scenarios/dla/value?metric=total_spend").text)
    assert again <= 3e5 < first


def test_a_cell_can_ask_for_a_saved_variant(client: TestClient) -> None:
    no_china = {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]}
    assert client.put("/v1/scenarios/cells", json={"request": small_request(), "variants": [no_china]}).is_success
    base = client.get("/v1/scenarios/cells/allocation.csv").text
    varied = client.get("/v1/scenarios/cells/allocation.csv", params={"variant": "no-china"}).text
    assert ",CN," in base and ",CN," not in varied
    fresh = client.post(
        "/v1/allocations",
        json={**small_request(), "policy": {**small_request().get("policy", {}), "excluded_countries": ["CN"]}},
    ).json()
    value = client.get("/v1/scenarios/cells/value", params={"metric": "total_spend", "variant": "no-china"})
    assert float(value.text) == pytest.approx(fresh["total_spend"])
    unknown = client.get("/v1/scenarios/cells/value", params={"metric": "total_spend", "variant": "nope"})
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["path"] == "query.variant"


def test_a_scenarios_stress_test_runs_as_a_job(client: TestClient) -> None:
    assert client.put("/v1/scenarios/risk", json={"request": small_request()}).is_success
    body = {"disruptions": {"countries": {"CN": 0.5}}, "draws": 200, "seed": 7, "mode": "hold"}
    job = finished(client, client.post("/v1/scenarios/risk/stress-test", json=body).json()["id"])
    assert job["status"] == "succeeded" and job["kind"] == "stress_test", job
    result = client.get(job["result_url"]).json()
    assert result["draws"] == 200 and result["seed"] == 7
    direct = client.post("/v1/stress-tests", json={**body, "request": small_request()}).json()
    assert result["hold"]["coverage_score"] == direct["hold"]["coverage_score"]  # same seed, same numbers
