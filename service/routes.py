"""HTTP routes: parse, call the engine through the gateway, return. No logic here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from models import AllocationRequest, AllocationResult
from service import examples
from service.errors import NotFound, error_answers
from service.examples import Example, ExampleSummary
from service.limits import StrictJSONRoute, client_gone
from service.solving import SolveGateway, until_gone
from service.spreadsheet.csvio import CSV_MEDIA_TYPE, csv_response, preferred
from service.spreadsheet.result import XLSX_MEDIA_TYPE, result_bytes

router = APIRouter(route_class=StrictJSONRoute)

# What any solve may meet besides 422 (401 and 413 are added to every operation by service.openapi).
SOLVE_ERRORS = error_answers(
    {503: "No solver capacity now (queue full, worker crashed, shutting down); see Retry-After"}
)


def get_gateway(request: Request) -> SolveGateway:
    return request.app.state.gateway


Gateway = Annotated[SolveGateway, Depends(get_gateway)]


def get_solve(request: Request, gateway: Gateway) -> Callable[[AllocationRequest], Awaitable[AllocationResult]]:
    """Solve through the gateway, stopping the solve if this request's client hangs up (499)."""
    return lambda body: until_gone(gateway.solve(body), client_gone(request))


Solve = Annotated[Callable[[AllocationRequest], Awaitable[AllocationResult]], Depends(get_solve)]


class Health(BaseModel):
    status: Literal["ok", "ready", "not_ready"]


@router.get("/healthz", tags=["health"], summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    tags=["health"],
    summary="The solver is usable",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready (no warm worker yet, or draining)"}},
)
async def readyz(gateway: Gateway) -> JSONResponse:
    ready = gateway.ready()
    return JSONResponse({"status": "ready" if ready else "not_ready"}, status_code=200 if ready else 503)


@router.post(
    "/v1/allocations",
    tags=["allocations"],
    summary="Allocate a purchase budget across minerals and supplier offers",
    response_model=AllocationResult,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary", "contentMediaType": "text/csv"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The result (JSON); with `Accept: text/csv` the allocation table as CSV; with the XLSX "
            "media type the result workbook (the request's inputs and the result's sheets, as a workbook upload gets)",
        },
        **error_answers(
            {
                422: "The request breaks the contract (every problem is listed with its path), "
                "or its model outgrew a solver worker's memory cap"
            }
        ),
        **SOLVE_ERRORS,
    },
)
async def allocate(body: AllocationRequest, solve: Solve, http: Request) -> Any:
    result = await solve(body)
    media = preferred(http.headers.get("accept"), (CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE))
    if media == CSV_MEDIA_TYPE:  # the allocation table, for tools that pull CSV from a URL
        return csv_response(result)
    if media == XLSX_MEDIA_TYPE:  # the result workbook of a request that came as JSON (the web page's download)
        workbook = await anyio.to_thread.run_sync(result_bytes, body, result)
        disposition = 'attachment; filename="allocation-result.xlsx"'
        headers = {"Content-Disposition": disposition, "X-Stockpile-Status": result.status.value}
        return Response(workbook, media_type=XLSX_MEDIA_TYPE, headers=headers)
    return result


@router.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


@router.get("/v1/examples", tags=["examples"], summary="Built-in example requests")
async def list_examples() -> list[ExampleSummary]:
    return examples.summaries()


@router.get(
    "/v1/examples/{name}",
    tags=["examples"],
    summary="One example: its notes and its request body",
    responses=error_answers({404: "No example of that name"}),
)
async def get_example(name: str) -> Example:
    try:
        return examples.example(name)
    except KeyError:
        raise NotFound(f"No example named '{name}'; see GET /v1/examples.") from None
