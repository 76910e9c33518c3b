"""HTTP routes: parse, call the engine through the gateway, return. No logic here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from models import AllocationRequest, AllocationResult
from service import examples
from service.errors import NotFound
from service.solving import SolveGateway

router = APIRouter()


def get_gateway(request: Request) -> SolveGateway:
    return request.app.state.gateway


Gateway = Annotated[SolveGateway, Depends(get_gateway)]


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
    responses={422: {"description": "The request breaks the contract; every problem is listed with its path"}},
)
async def create_allocation(body: AllocationRequest, gateway: Gateway) -> AllocationResult:
    return await gateway.solve(body)


@router.get("/v1/examples", tags=["examples"], summary="Built-in example requests")
async def list_examples() -> list[dict[str, str]]:
    return [
        {"name": e["name"], "title": e["title"], "description": e["description"]}
        for e in examples.catalogue().values()
    ]


@router.get("/v1/examples/{name}", tags=["examples"], summary="One example: its notes and its request body")
async def get_example(name: str) -> dict[str, Any]:
    try:
        return examples.catalogue()[name]
    except KeyError:
        raise NotFound(f"No example named '{name}'; see GET /v1/examples.") from None
