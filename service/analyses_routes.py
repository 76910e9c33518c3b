"""What-if routes: comparisons, frontiers, policy costs, and applying changes. No logic here."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from analyses import compare, frontier, policy_costs
from models import AllocationRequest
from models.analyses import (
    ComparisonRequest,
    ComparisonResult,
    FrontierRequest,
    FrontierResult,
    PolicyCostsRequest,
    PolicyCostsResult,
)
from models.changes import ChangedRequest, ChangesRequest, apply_changes
from service.analyses import AnalysisRunner
from service.charts import frontier_chart
from service.errors import error_answers
from service.limits import StrictJSONRoute
from service.spreadsheet.comparison import comparison_workbook
from service.spreadsheet.csvio import comparison_csv, frontier_csv, policy_costs_csv, preferred
from service.spreadsheet.result import XLSX_MEDIA_TYPE as XLSX

router = APIRouter(route_class=StrictJSONRoute, tags=["what-if"])

ANALYSIS_ERRORS = error_answers(
    {
        422: "The request or a change breaks the contract (every problem is listed with its path)",
        503: "Too many analyses at once, or shutting down; see Retry-After",
    }
)


def get_runner(request: Request) -> AnalysisRunner:
    return request.app.state.analyses


Runner = Annotated[AnalysisRunner, Depends(get_runner)]

CSV = "text/csv"
SVG, PNG = "image/svg+xml", "image/png"


def _alternatives(description: str, *media: str) -> dict[int | str, dict[str, Any]]:
    """The 200 answer's other media types, for the OpenAPI description (binary downloads)."""
    return {
        200: {
            "description": description,
            "content": {
                m: {"schema": {"type": "string"} if m == CSV else {"type": "string", "format": "binary"}} for m in media
            },
        }
    }


def _file(body: bytes | str, media: str, name: str) -> Response:
    charset = "; charset=utf-8" if media == CSV else ""
    return Response(body, media_type=media + charset, headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.post(
    "/v1/changes/apply",
    name="apply_changes",
    summary="Apply a list of changes to a request: the request a variant solves",
    response_model=ChangedRequest,
    responses={k: v for k, v in ANALYSIS_ERRORS.items() if k != 503},
)
async def apply(body: ChangesRequest) -> AllocationRequest:
    return apply_changes(body.request, body.changes).request


@router.post(
    "/v1/comparisons",
    name="compare",
    summary="Solve the base request and each variant; each variant's delta against the base",
    response_model=ComparisonResult,
    responses={
        **ANALYSIS_ERRORS,
        **_alternatives(
            "The scenarios (JSON), or by `Accept` a workbook or a CSV table (one row per scenario and offer)", XLSX, CSV
        ),
    },
)
async def create_comparison(body: ComparisonRequest, runner: Runner, http: Request) -> Any:
    result = await runner.run(compare, body)
    media = preferred(http.headers.get("accept"), (XLSX, CSV))
    if media == XLSX:
        return _file(await anyio.to_thread.run_sync(comparison_workbook, body, result), XLSX, "comparison.xlsx")
    if media == CSV:
        return _file(comparison_csv(result), CSV, "comparison.csv")
    return result


@router.post(
    "/v1/frontiers",
    name="frontier",
    summary="The best coverage at each of several budgets, and the knees of that curve",
    response_model=FrontierResult,
    responses={
        **ANALYSIS_ERRORS,
        **_alternatives(
            "The points and knees (JSON), or by `Accept` the chart (SVG, PNG) or a CSV table", SVG, PNG, CSV
        ),
    },
)
async def create_frontier(body: FrontierRequest, runner: Runner, http: Request) -> Any:
    result = await runner.run(frontier, body)
    media = preferred(http.headers.get("accept"), (SVG, PNG, CSV))
    if media in (SVG, PNG):
        chart = await anyio.to_thread.run_sync(frontier_chart, result, "svg" if media == SVG else "png")
        return _file(chart, media, "frontier." + ("svg" if media == SVG else "png"))
    if media == CSV:
        return _file(frontier_csv(result), CSV, "frontier.csv")
    return result


@router.post(
    "/v1/policy-costs",
    name="policy_costs",
    summary="What each policy rule in force costs: the request re-solved with that rule lifted",
    response_model=PolicyCostsResult,
    responses={**ANALYSIS_ERRORS, **_alternatives("The rules' costs (JSON), or by `Accept` a CSV table", CSV)},
)
async def create_policy_costs(body: PolicyCostsRequest, runner: Runner, http: Request) -> Any:
    result = await runner.run(policy_costs, body)
    if preferred(http.headers.get("accept"), (CSV,)) == CSV:
        return _file(policy_costs_csv(result), CSV, "policy-costs.csv")
    return result
