"""HTTP routes: parse, call the engine through the gateway, return. No logic here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from models import AllocationRequest, AllocationResult
from service import examples
from service.errors import ErrorBody, NotFound
from service.limits import StrictJSONRoute, client_gone
from service.solving import SolveGateway, until_gone
from service.spreadsheet.csvio import csv_response, wants_csv

router = APIRouter(route_class=StrictJSONRoute)

# Errors any solve may meet besides 422, documented so that clients (and the schema tests) expect them.
SOLVE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "API keys are configured and none valid was sent"},
    413: {"model": ErrorBody, "description": "The body is larger than the configured limit"},
    503: {
        "model": ErrorBody,
        "description": "No solver capacity now (queue full, worker crashed, shutting down); see Retry-After",
    },
}


def get_gateway(request: Request) -> SolveGateway:
    return request.app.state.gateway


Gateway = Annotated[SolveGateway, Depends(get_gateway)]


def get_solve(request: Request, gateway: Gateway) -> Callable[[AllocationRequest], Awaitable[AllocationResult]]:
    """Solve through the gateway, stopping the solve if this request's client hangs up (499)."""
    return lambda body: until_gone(gateway.solve(body), client_gone(request))


Solve = Annotated[Callable[[AllocationRequest], Awaitable[AllocationResult]], Depends(get_solve)]


@router.get("/healthz", tags=["health"], summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="The solver is usable", responses={503: {"description": "Not ready"}})
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
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The result (JSON), or with `Accept: text/csv` the allocation table as CSV",
        },
        422: {
            "model": ErrorBody,
            "description": "The request breaks the contract (every problem is listed with its path), "
            "or its model outgrew a solver worker's memory cap",
        },
        **SOLVE_ERRORS,
    },
)
async def create_allocation(body: AllocationRequest, solve: Solve, http: Request) -> Any:
    result = await solve(body)
    if wants_csv(http.headers.get("accept")):  # the allocation table, for tools that pull CSV from a URL
        return csv_response(result)
    return result


@router.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


@router.get("/v1/examples", tags=["examples"], summary="Built-in example requests")
async def list_examples() -> list[dict[str, str]]:
    return [
        {"name": e["name"], "title": e["title"], "description": e["description"]} for e in examples.catalogue().values()
    ]


@router.get(
    "/v1/examples/{name}",
    tags=["examples"],
    summary="One example: its notes and its request body",
    responses={404: {"model": ErrorBody, "description": "No example of that name"}},
)
async def get_example(name: str) -> dict[str, Any]:
    try:
        return examples.catalogue()[name]
    except KeyError:
        raise NotFound(f"No example named '{name}'; see GET /v1/examples.") from None
