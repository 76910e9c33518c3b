"""POST/GET/DELETE /v1/jobs in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.reliability.stress_instances import hard_request
from tests.service.jobs.conftest import finished, small_request, wait_for


def _same_answer(a: dict, b: dict) -> None:
    assert a["status"] == b["status"]
    assert a["coverage_score"] == b["coverage_score"] and a["total_spend"] == b["total_spend"]
    assert [(x["supplier_id"], x["quantity"]) for x in a["allocations"]] == [
        (x["supplier_id"], x["quantity"]) for x in b["allocations"]
    ]


def test_an_allocation_job_gives_what_the_synchronous_endpoint_gives(client: TestClient) -> None:
    body = small_request()
    r = client.post("/v1/jobs", json={"kind": "allocation", "input": body})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}" and job["status"] == "queued"
    done = finished(client, job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1 and done["progress"] == 1.0
    assert done["started_at"] and done["finished_at"] and done["error"] is None
    result = client.get(done["result_url"]).json()
    _same_answer(result, client.post("/v1/allocations", json=body).json())
    table = client.get(done["result_url"], headers={"Accept": "text/csv"})
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.splitlines()[0].startswith("supplier_id")
    assert len(table.text.splitlines()) == len(result["allocations"]) + 1
    book = client.get(
        done["result_url"], headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    )
    assert book.content[:2] == b"PK"


def test_bad_submissions_are_refused_with_their_paths(client: TestClient) -> None:
    r = client.post("/v1/jobs", json={"kind": "astrology", "input": {}})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "kind"
    bad = small_request()
    bad["budget"] = -1
    del bad["minerals"][0]["target"]
    r = client.post("/v1/jobs", json={"kind": "allocation", "input": bad})
    assert r.status_code == 422
    paths = {p["path"] for p in r.json()["problems"]}
    assert {"input.budget", "input.minerals[0].target"} <= paths
    assert client.post("/v1/jobs", json={"input": {}}).status_code == 422
    for path in ("/v1/jobs/nope", "/v1/jobs/nope/result", "/v1/jobs/nope/webhooks"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.delete("/v1/jobs/nope").status_code == 404
    assert client.get("/v1/jobs?cursor=garbage").status_code == 422
    r = client.post("/v1/jobs", json={"kind": "allocation", "input": small_request(), "webhook_url": "http://x/"})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "webhook_url"  # no secret configured


def test_an_idempotency_key_gives_the_same_job_for_the_same_body_and_409_for_another(client: TestClient) -> None:
    body = {"kind": "allocation", "input": small_request()}
    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k1"}).json()
    again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 202 and again.json()["id"] == first["id"]
    other = client.post(
        "/v1/jobs", json={"kind": "allocation", "input": small_request(2e6)}, headers={"Idempotency-Key": "k1"}
    )
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"
    assert client.post("/v1/jobs", json=body).json()["id"] != first["id"]  # no key: a new job


def test_listing_filters_and_pages_newest_first(client: TestClient) -> None:
    ids = [
        client.post("/v1/jobs", json={"kind": "allocation", "input": small_request(1e6 + n)}).json()["id"]
        for n in range(5)
    ]
    seen, cursor = [], None
    while True:
        page = client.get("/v1/jobs", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    for job_id in ids:
        finished(client, job_id)
    assert len(client.get("/v1/jobs", params={"status": "succeeded", "kind": "allocation"}).json()["jobs"]) == 5
    assert client.get("/v1/jobs", params={"status": "failed"}).json()["jobs"] == []


def test_cancelling_a_running_job_stops_its_solve_within_2_s_and_frees_the_worker(client: TestClient) -> None:
    gateway = client.app.state.gateway
    [worker] = gateway.worker_pids()
    job = client.post("/v1/jobs", json={"kind": "allocation", "input": hard_request(60.0)}).json()
    wait_for(lambda: gateway.stats().busy == 1)
    began = time.monotonic()
    r = client.delete(f"/v1/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert time.monotonic() - began < 2.0
    assert gateway.stats().busy == 0
    wait_for(lambda: gateway.worker_pids() and gateway.worker_pids() != [worker])  # the worker was replaced
    assert client.get(f"/v1/jobs/{job['id']}/result").status_code == 409
    # the freed worker takes the next job
    assert (
        finished(client, client.post("/v1/jobs", json={"kind": "allocation", "input": small_request()}).json()["id"])[
            "status"
        ]
        == "succeeded"
    )


def test_cancelling_a_queued_job_ends_it_before_it_runs(database_url: str) -> None:
    from tests.service.jobs.conftest import app_client

    with app_client(database_url, job_concurrency=0) as client:  # this server runs no jobs
        job = client.post("/v1/jobs", json={"kind": "allocation", "input": small_request()}).json()
        r = client.delete(f"/v1/jobs/{job['id']}")
        assert r.json()["status"] == "cancelled" and r.json()["attempts"] == 0
        assert client.get(f"/v1/jobs/{job['id']}/result").json()["error"] == "job_cancelled"


def test_a_job_cancelled_through_another_replica_stops_within_2_s(database_url: str) -> None:
    from tests.service.jobs.conftest import app_client

    with app_client(database_url, job_concurrency=0) as front, app_client(database_url) as runner:
        gateway = runner.app.state.gateway
        job = front.post("/v1/jobs", json={"kind": "allocation", "input": hard_request(60.0)}).json()
        wait_for(lambda: gateway.stats().busy == 1)  # the runner replica took it
        began = time.monotonic()
        assert front.delete(f"/v1/jobs/{job['id']}").status_code == 200
        wait_for(lambda: front.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled", timeout=5)
        wait_for(lambda: gateway.stats().busy == 0, timeout=5)
        assert time.monotonic() - began < 2.0
