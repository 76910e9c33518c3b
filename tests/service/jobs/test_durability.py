"""Jobs survive their server: SIGKILL mid-job, and the job finishes exactly once, with the synchronous answer.

Real ``stockpile serve`` processes on one database; 50 concurrent clients on a live server.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import live_server, wait_until
from tests.reliability.stress_instances import generated_request
from tests.reliability.test_reliability_http import serve_in_subprocess
from tests.reliability.test_reliability_pool import metric
from tests.service.jobs.conftest import small_request

pytestmark = pytest.mark.slow


def _slow_request() -> dict[str, Any]:
    """Solved to optimality (a deterministic answer) in a few seconds: long enough to be killed mid-solve."""
    return generated_request(10, 15, seed=1, time_limit_s=120)


def _kill(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its worker processes, as a crash or OOM kill takes them
    proc.wait()


def _status(url: str, job_id: str) -> dict[str, Any]:
    return httpx.get(f"{url}/v1/jobs/{job_id}", timeout=30).json()


def _same_answer(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["status"] == b["status"] == "optimal"
    assert a["coverage_score"] == pytest.approx(b["coverage_score"], rel=1e-9)
    assert {x["supplier_id"]: x["quantity"] for x in a["allocations"]} == pytest.approx(
        {x["supplier_id"]: x["quantity"] for x in b["allocations"]}, rel=1e-6, abs=1e-6
    )


def _servers(database_url: str, n: int) -> list:
    settings = {"database_url": database_url, "job_lease_s": "2", "job_poll_s": "0.2", "max_time_limit_s": "120"}
    return [serve_in_subprocess(start_new_session=True, **settings) for _ in range(n)]


def test_a_job_whose_server_is_killed_finishes_once_after_a_restart(tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path / 'stockpile.db'}"
    body = _slow_request()
    [(first, url)] = _servers(database_url, 1)
    try:
        job = httpx.post(f"{url}/v1/jobs", json={"kind": "allocation", "input": body}, timeout=30).json()
        wait_until(lambda: metric(httpx.get(f"{url}/metrics").text, "stockpile_solves_in_progress") == 1)
        assert _status(url, job["id"])["status"] == "running"
    finally:
        _kill(first)
    [(second, url)] = _servers(database_url, 1)
    try:
        done = wait_until(lambda: (s := _status(url, job["id"]))["status"] in ("succeeded", "failed") and s, 120)
        assert done["status"] == "succeeded" and done["attempts"] == 2
        result = httpx.get(f"{url}{done['result_url']}", timeout=30).json()
        _same_answer(result, httpx.post(f"{url}/v1/allocations", json=body, timeout=150).json())
        jobs = httpx.get(f"{url}/v1/jobs", timeout=30).json()["jobs"]
        assert [j["id"] for j in jobs] == [job["id"]]
    finally:
        _kill(second)


def test_with_postgres_another_replica_finishes_the_job_of_one_that_died(postgres_server) -> None:
    from tests.postgres import fresh_database

    database_url = fresh_database(postgres_server)
    body = _slow_request()
    servers = _servers(database_url, 2)
    try:
        url = servers[0][1]
        job = httpx.post(f"{url}/v1/jobs", json={"kind": "allocation", "input": body}, timeout=30).json()

        def runner() -> Any:
            busy = [
                (p, u) for p, u in servers if metric(httpx.get(f"{u}/metrics").text, "stockpile_solves_in_progress")
            ]
            return busy[0] if busy else None

        victim = wait_until(runner)
        _kill(victim[0])
        [other] = [u for p, u in servers if p is not victim[0]]
        done = wait_until(lambda: (s := _status(other, job["id"]))["status"] in ("succeeded", "failed") and s, 120)
        assert done["status"] == "succeeded" and done["attempts"] == 2
        result = httpx.get(f"{other}{done['result_url']}", timeout=30).json()
        _same_answer(result, httpx.post(f"{other}/v1/allocations", json=body, timeout=150).json())
    finally:
        for proc, _ in servers:
            if proc.poll() is None:
                _kill(proc)


def test_50_clients_submitting_and_polling_at_once_lose_and_duplicate_no_job(database_url: str) -> None:
    with live_server(workers=1, database_url=database_url, job_poll_s=0.05, job_concurrency=2) as server:
        server.wait_ready()
        outcomes: dict[int, dict[str, Any]] = {}
        errors: list[BaseException] = []

        def client(n: int) -> None:
            try:
                with server.client() as c:
                    r = c.post("/v1/jobs", json={"kind": "allocation", "input": small_request(1e6 + n)})
                    assert r.status_code == 202
                    job_id = r.json()["id"]
                    job = wait_until(lambda: (s := c.get(f"/v1/jobs/{job_id}").json())["status"] == "succeeded" and s)
                    outcomes[n] = {**job, "budget": c.get(job["result_url"]).json()["budget"]}
            except (AssertionError, httpx.HTTPError) as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        assert len({o["id"] for o in outcomes.values()}) == 50
        assert all(o["attempts"] == 1 for o in outcomes.values())
        assert all(o["budget"] == 1e6 + n for n, o in outcomes.items())  # each its own result
        with server.client() as c:
            listed = c.get("/v1/jobs", params={"limit": 500}).json()["jobs"]
        assert sorted(j["id"] for j in listed) == sorted(o["id"] for o in outcomes.values())
