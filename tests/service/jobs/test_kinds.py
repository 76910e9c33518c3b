"""A kind registered with one call runs as a job and from a saved scenario (the hook analyses use)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from models import AllocationRequest
from service.kinds import KINDS, JobContext, register
from tests.service.jobs.conftest import finished, small_request


class TwoBudgets(BaseModel):
    request: AllocationRequest
    budgets: list[float]


class Coverages(BaseModel):
    coverage: list[float]


async def run_two_budgets(body: TwoBudgets, ctx: JobContext) -> Coverages:
    out = []
    for n, budget in enumerate(body.budgets):
        result = await ctx.gateway.solve(body.request.model_copy(update={"budget": budget}))
        out.append(result.coverage_score)
        ctx.progress((n + 1) / len(body.budgets))
    return Coverages(coverage=out)


@pytest.fixture
def frontier_kind(monkeypatch):
    monkeypatch.setitem(KINDS, "frontier", KINDS["allocation"])  # restored afterwards
    return register("frontier", TwoBudgets, run_two_budgets, Coverages)


def test_a_registered_kind_runs_as_a_job_and_as_a_scenario_action(client, frontier_kind) -> None:
    r = client.post("/v1/jobs", json={"kind": "frontier", "input": {"request": small_request(), "budgets": [3e5, 1e6]}})
    assert r.status_code == 202
    job = finished(client, r.json()["id"])
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    direct = [client.post("/v1/allocations", json=small_request(b)).json()["coverage_score"] for b in (3e5, 1e6)]
    assert client.get(job["result_url"]).json() == {"coverage": direct}
    bad = client.post("/v1/jobs", json={"kind": "frontier", "input": {"request": small_request(), "budgets": "x"}})
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "input.budgets"
    # the scenario action builds its input from the stored request and the posted body
    client.put("/v1/scenarios/s", json={"request": small_request()})
    r = client.post("/v1/scenarios/s/frontier", json={"budgets": [3e5]})
    assert r.status_code == 202
    job = finished(client, r.json()["id"])
    assert job["scenario_version"] == 1 and client.get(job["result_url"]).json() == {"coverage": direct[:1]}


class Nothing(BaseModel):
    pass


def _failing(error: Exception):
    calls: list[int] = []

    async def run(body: Nothing, ctx: JobContext) -> Nothing:
        calls.append(1)
        raise error

    return run, calls


def test_a_run_that_keeps_failing_is_retried_then_failed_with_its_error(client, monkeypatch) -> None:
    from service.errors import ServiceUnavailable

    run, calls = _failing(ServiceUnavailable("The solver worker stopped unexpectedly.", 2))
    monkeypatch.setitem(KINDS, "flaky", KINDS["allocation"])
    register("flaky", Nothing, run, Nothing)
    job = finished(client, client.post("/v1/jobs", json={"kind": "flaky", "input": {}}).json()["id"])
    assert job["status"] == "failed" and job["attempts"] == 3 and len(calls) == 3
    assert job["error"] == {
        "error": "unavailable",
        "detail": "The solver worker stopped unexpectedly.",
        "problems": None,
    }
    assert client.get(f"/v1/jobs/{job['id']}/result").json()["error"] == "job_failed"


def test_a_run_refused_for_its_input_fails_at_once(client, monkeypatch) -> None:
    from service.errors import ModelTooLarge

    run, calls = _failing(ModelTooLarge("The model needs more memory than a solver worker may use."))
    monkeypatch.setitem(KINDS, "huge", KINDS["allocation"])
    register("huge", Nothing, run, Nothing)
    job = finished(client, client.post("/v1/jobs", json={"kind": "huge", "input": {}}).json()["id"])
    assert job["status"] == "failed" and job["attempts"] == 1 and len(calls) == 1
    assert job["error"]["error"] == "model_too_large"
