"""HTTP routes for jobs: submit, read, list, result, cancel. The work is in ``service.jobs``."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from service.errors import KEY_REUSED, error_answers
from service.jobs import (
    XLSX,
    JobList,
    JobService,
    JobSubmission,
    JobView,
    Status,
    WebhookAttempt,
    result_response,
    view,
)
from service.limits import StrictJSONRoute

router = APIRouter(route_class=StrictJSONRoute, tags=["jobs"])

_ERRORS = error_answers({404: "No such job", 422: "A parameter is not valid (each problem listed with its path)"})


def get_jobs(request: Request) -> JobService:
    return request.app.state.jobs


Jobs = Annotated[JobService, Depends(get_jobs)]


def accepted(job: JobView) -> JSONResponse:
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobView,
    summary="Submit a job: the body of an endpoint, run in the background",
    responses={
        **KEY_REUSED,
        **_ERRORS,
        **error_answers({422: "Unknown kind, or input failing its endpoint's validation"}),
    },
)
async def submit_job(
    body: JobSubmission,
    jobs: Jobs,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    job, _ = await jobs.submit(body.kind, body.input, body.webhook_url, idempotency_key)
    return accepted(job)


@router.get("/v1/jobs", response_model=JobList, summary="Jobs, newest first", responses=_ERRORS)
async def list_jobs(
    jobs: Jobs,
    status: Status | None = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobList:
    return await jobs.list(status, kind, limit, cursor)


@router.get("/v1/jobs/{job_id}", response_model=JobView, summary="A job's status", responses=_ERRORS)
async def get_job(job_id: str, jobs: Jobs) -> JobView:
    return view(await jobs.get(job_id))


@router.get(
    "/v1/jobs/{job_id}/result",
    summary="A succeeded job's result: JSON, or CSV / XLSX by Accept where its kind offers them",
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "The result"},
        **error_answers({409: "The job has not succeeded (yet)"}),
        **_ERRORS,
    },
)
async def job_result(job_id: str, jobs: Jobs, request: Request) -> Response:
    row, kind = await jobs.result(job_id)
    return await anyio.to_thread.run_sync(result_response, row, kind, request.headers.get("accept"))


@router.get(
    "/v1/jobs/{job_id}/webhooks",
    response_model=list[WebhookAttempt],
    summary="Every delivery attempt of the job's webhook",
    responses=_ERRORS,
)
async def job_webhooks(job_id: str, jobs: Jobs) -> list[WebhookAttempt]:
    return await jobs.webhook_attempts(job_id)


@router.delete(
    "/v1/jobs/{job_id}",
    response_model=JobView,
    summary="Cancel a queued or running job; the job as it is then",
    responses=_ERRORS,
)
async def cancel_job(job_id: str, jobs: Jobs) -> JobView:
    return await jobs.cancel(job_id)
