"""Disruption risk over HTTP: stress tests and robust allocations.

Thin routes: the work is ``analyses.stress`` and ``analyses.robust``, run on a thread so
the event loop keeps serving (single solves included) while a test runs. Replan draws
and robust solves run on the app's analysis executor (``AnalysisRunner.stress_test`` and
``robust_allocation``, shared with the job kinds): the cluster at ``STOCKPILE_DASK_SCHEDULER``,
or a ``LocalCluster`` of single-threaded worker processes started at first use and closed on
shutdown (``service.analyses``). Hold-mode arithmetic runs on the thread in this process: it is
vectorised numpy, about 2 microseconds a draw.

A running test can be watched (``GET /v1/stress-tests/running``: draws done of the
total) and cancelled (``DELETE /v1/stress-tests/running/{id}``, or by hanging up); its
id is the request's ``Stockpile-Test-Id`` header when given, else made up.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from analyses.stress import Control, plan_problems
from models.disruptions import Plan, RobustAllocationResult, RobustRequest, StressTestRequest, StressTestResult
from models.problems import Problem
from service.errors import InvalidRequest, NotFound, error_answers
from service.limits import StrictJSONRoute, client_gone
from service.solving import until_gone
from service.stress_charts import histograms, wanted_image

router = APIRouter(route_class=StrictJSONRoute)


def _running(app: FastAPI) -> dict[str, dict[str, Any]]:
    if getattr(app.state, "stress_running", None) is None:
        app.state.stress_running = {}
    return app.state.stress_running


async def _in_thread(http: Request, work, cancel: threading.Event | None = None) -> Any:
    """``work()`` on a thread; if the client hangs up first, ``cancel`` is set and 499 raised."""

    async def run() -> Any:
        try:
            return await asyncio.to_thread(work)
        except asyncio.CancelledError:
            if cancel is not None:
                cancel.set()
            raise

    return await until_gone(run(), client_gone(http))


@router.post(
    "/v1/stress-tests",
    tags=["analyses"],
    summary="Stress-test a purchase plan over random supply disruptions (Monte Carlo)",
    response_model=StressTestResult,
    response_model_exclude_none=True,
    responses={
        200: {
            "content": {"image/svg+xml": {}, "image/png": {}},
            "description": "The summary (JSON), or with Accept image/svg+xml or image/png the histograms",
        },
    },
)
async def create_stress_test(body: StressTestRequest, http: Request) -> Any:
    app = http.app
    settings = app.state.settings
    problems: list[Problem] = []
    if body.draws > settings.stress_max_draws:
        problems.append(
            Problem(path="draws", message=f"must be <= {settings.stress_max_draws:,} here", code="too_many_draws")
        )
    if isinstance(body.plan, Plan):
        problems += plan_problems(body.request, body.plan)
    if problems:
        raise InvalidRequest(problems)
    media = wanted_image(http.headers.get("accept"))
    test_id = http.headers.get("stockpile-test-id") or uuid.uuid4().hex
    control = Control()
    running = _running(app)
    running[test_id] = {"control": control, "started": time.time(), "draws": body.draws, "mode": body.mode}
    samples: dict[str, Any] = {}

    def work() -> StressTestResult:
        return app.state.analyses.stress_test(body, control, samples if media else None)

    try:
        result = await _in_thread(http, work, control.cancel)
    finally:
        running.pop(test_id, None)
    if media:
        minerals = [m.id for m in body.request.minerals]
        image = await asyncio.to_thread(histograms, samples, minerals, media)
        return Response(image, media_type=media)
    return result


@router.get("/v1/stress-tests/running", tags=["analyses"], summary="Stress tests running now, with their progress")
async def list_running(http: Request) -> list[dict[str, Any]]:
    now = time.time()
    return [
        {
            "id": k,
            "mode": v["mode"],
            "draws": v["draws"],
            "done": v["control"].done,
            "total": v["control"].total,
            "seconds": now - v["started"],
        }
        for k, v in list(_running(http.app).items())
    ]


@router.delete(
    "/v1/stress-tests/running/{test_id}",
    tags=["analyses"],
    summary="Cancel a running stress test: it answers with the draws done",
    status_code=202,
    responses=error_answers({404: "No test of that id is running"}),
)
async def cancel_running(test_id: str, http: Request) -> dict[str, str]:
    entry = _running(http.app).get(test_id)
    if entry is None:
        raise NotFound(f"No stress test '{test_id}' is running; see GET /v1/stress-tests/running.")
    entry["control"].cancel.set()
    return {"id": test_id, "status": "cancelling"}


@router.post(
    "/v1/robust-allocations",
    tags=["analyses"],
    summary="The allocation that holds up best over sampled disruptions (sample-average approximation)",
    response_model=RobustAllocationResult,
)
async def create_robust_allocation(body: RobustRequest, http: Request) -> Any:
    runner = http.app.state.analyses
    return await _in_thread(http, lambda: runner.robust_allocation(body))
