"""HTTP routes for saved scenarios, their tokens, and the GET endpoints spreadsheet cells call.

The work is in ``service.scenarios``; ``?token=`` is accepted by the three spreadsheet
endpoints only (``service.auth.TOKEN_PATHS``), and checked here against the scenario.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi import Path as FastAPIPath
from fastapi.responses import JSONResponse
from pydantic import WithJsonSchema

from service.errors import KEY_REUSED, error_answers
from service.jobs import JobView
from service.jobs_routes import accepted
from service.kinds import KINDS, SCENARIO_ACTIONS
from service.limits import StrictJSONRoute
from service.scenarios import (
    NAME,
    ScenarioIn,
    ScenarioService,
    ScenarioSummary,
    ScenarioView,
    TokenView,
    action_body_schema,
    etag,
)

router = APIRouter(route_class=StrictJSONRoute, tags=["scenarios"])

_ERRORS = error_answers(
    {
        401: "No valid API key (or, where accepted, token) was sent",
        404: "No such scenario (or version, or token)",
        422: "A parameter or the body is not valid (each problem listed with its path)",
    }
)
_CELL_ERRORS = {
    **_ERRORS,
    **error_answers({422: "An override or the metric is not valid", 503: "No solver capacity now"}),
}


# What the path and headers take, stated in the schema as the service checks them.
Name = Annotated[str, FastAPIPath(pattern=NAME.pattern, description="1 to 100 letters, digits, '.', '_' or '-'")]
# An If-Match is `*` or a list of entity tags (the ETag of a read, `"v3"`).
ETAGS = r'^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$'
IfMatch = Annotated[str | None, Header(pattern=ETAGS, description="The ETag of the version this write replaces, or *.")]
IfNoneMatch = Annotated[str | None, Header(pattern=r"^\s*\*\s*$", description="*: only if there is no such scenario.")]
# (the metric is checked by ``scenarios.metric_value``, which names its path query.metric)
METRIC = r"^(coverage_score|total_spend|(coverage|spend|quantity):.+)$"


def get_scenarios(request: Request) -> ScenarioService:
    return request.app.state.scenarios


Scenarios = Annotated[ScenarioService, Depends(get_scenarios)]


async def cell_access(name: Name, scenarios: Scenarios, token: Annotated[str | None, Query()] = None) -> None:
    """A ``?token=`` must be valid for this scenario (API keys were checked by the middleware)."""
    if token is not None:
        await scenarios.check_token(name, token)


CellAccess = Depends(cell_access)


def _with_etag(view: ScenarioView, status: int = 200) -> JSONResponse:
    return JSONResponse(view.model_dump(mode="json"), status_code=status, headers={"ETag": etag(view.version)})


@router.put(
    "/v1/scenarios/{name}",
    response_model=ScenarioView,
    summary="Save a scenario (a new version); If-Match makes it conditional on the version it replaces",
    responses={
        201: {"model": ScenarioView, "description": "Created (version 1)"},
        **error_answers({412: "If-Match names a version that is not the current one"}),
        **_ERRORS,
        **error_answers({422: "The scenario breaks the contract"}),
    },
)
async def put_scenario(
    name: Name,
    body: ScenarioIn,
    scenarios: Scenarios,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> JSONResponse:
    view, created = await scenarios.put(name, body, if_match, if_none_match)
    return _with_etag(view, 201 if created else 200)


@router.get("/v1/scenarios", response_model=list[ScenarioSummary], summary="Saved scenarios", responses=_ERRORS)
async def list_scenarios(scenarios: Scenarios) -> list[ScenarioSummary]:
    return await scenarios.list()


@router.get(
    "/v1/scenarios/{name}", response_model=ScenarioView, summary="A scenario's current version", responses=_ERRORS
)
async def get_scenario(name: Name, scenarios: Scenarios) -> JSONResponse:
    return _with_etag(await scenarios.get(name))


@router.get(
    "/v1/scenarios/{name}/versions/{version}",
    response_model=ScenarioView,
    summary="One version of a scenario",
    responses=_ERRORS,
)
async def get_scenario_version(
    name: Name, version: Annotated[int, FastAPIPath(ge=1, le=2**31 - 1)], scenarios: Scenarios
) -> JSONResponse:
    return _with_etag(await scenarios.get(name, version))


@router.delete(
    "/v1/scenarios/{name}",
    status_code=204,
    summary="Delete a scenario, its versions and its tokens",
    responses={**error_answers({412: "If-Match names a stale version"}), **_ERRORS},
)
async def delete_scenario(name: Name, scenarios: Scenarios, if_match: IfMatch = None) -> Response:
    await scenarios.delete(name, if_match)
    return Response(status_code=204)


@router.post(
    "/v1/scenarios/{name}/tokens",
    status_code=201,
    response_model=TokenView,
    summary="A read-only token for this scenario's spreadsheet endpoints (?token=); shown once",
    responses=_ERRORS,
)
async def new_token(name: Name, scenarios: Scenarios) -> TokenView:
    return await scenarios.new_token(name)


@router.get(
    "/v1/scenarios/{name}/tokens", response_model=list[TokenView], summary="The scenario's tokens", responses=_ERRORS
)
async def list_tokens(name: Name, scenarios: Scenarios) -> list[TokenView]:
    return await scenarios.tokens(name)


@router.delete("/v1/scenarios/{name}/tokens/{token_id}", status_code=204, summary="Revoke a token", responses=_ERRORS)
async def revoke_token(name: Name, token_id: str, scenarios: Scenarios) -> Response:
    await scenarios.revoke(name, token_id)
    return Response(status_code=204)


@router.get(
    "/v1/scenarios/{name}/value",
    summary="One number of the current version's result, with overrides (text/plain, for WEBSERVICE)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "The number"}, **_CELL_ERRORS},
    dependencies=[CellAccess],
)
async def scenario_value(
    name: Name,
    metric: Annotated[str, Query(json_schema_extra={"pattern": METRIC})],
    request: Request,
    scenarios: Scenarios,
) -> Response:
    value = await scenarios.value(name, metric, request.query_params.multi_items())
    return Response(repr(float(value)), media_type="text/plain; charset=utf-8")


@router.get(
    "/v1/scenarios/{name}/allocation.csv",
    summary="The allocation table of the current version, with overrides (for IMPORTDATA, Power Query)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The table"}, **_CELL_ERRORS},
    dependencies=[CellAccess],
)
async def scenario_allocation_csv(name: Name, request: Request, scenarios: Scenarios) -> Response:
    text, result = await scenarios.allocation_csv(name, request.query_params.multi_items())
    return Response(text, media_type="text/csv; charset=utf-8", headers={"X-Stockpile-Status": result.status.value})


@router.get(
    "/v1/scenarios/{name}/summary.csv",
    summary="Per-mineral quantities, coverage and spend of the current version, with overrides",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The table"}, **_CELL_ERRORS},
    dependencies=[CellAccess],
)
async def scenario_summary_csv(name: Name, request: Request, scenarios: Scenarios) -> Response:
    text, result = await scenarios.summary_csv(name, request.query_params.multi_items())
    return Response(text, media_type="text/csv; charset=utf-8", headers={"X-Stockpile-Status": result.status.value})


def _run_action(action: str):
    schema = action_body_schema(KINDS[SCENARIO_ACTIONS[action]])
    # A body with fields of its own to give (a stress test's disruptions) is required; else it may be left out.
    needed = bool(schema.get("required"))
    body_schema = schema if needed else {"anyOf": [schema, {"type": "null"}]}

    async def run_scenario(
        name: Name,
        scenarios: Scenarios,
        body: dict[str, Any] | None = None,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        return accepted(await scenarios.run(name, action, body or {}, idempotency_key))

    async def run_scenario_with_body(
        name: Name,
        scenarios: Scenarios,
        body: dict[str, Any],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        return accepted(await scenarios.run(name, action, body, idempotency_key))

    # (set here, not written as the annotation: it holds this action's schema, which a string cannot name)
    if needed:
        run_scenario_with_body.__annotations__["body"] = Annotated[dict[str, Any], Body(), WithJsonSchema(body_schema)]
        run_scenario_with_body.__name__ = run_scenario.__name__
        return run_scenario_with_body
    run_scenario.__annotations__["body"] = Annotated[dict[str, Any] | None, Body(), WithJsonSchema(body_schema)]
    return run_scenario


# One route per action (solve, compare, frontier, stress-test), each running its kind as a job.
# (An action whose kind this server does not run has no route: the description lists what runs.)
for _action, _kind in SCENARIO_ACTIONS.items():
    if _kind not in KINDS:
        continue
    router.add_api_route(
        f"/v1/scenarios/{{name}}/{_action}",
        _run_action(_action),
        methods=["POST"],
        status_code=202,
        response_model=JobView,
        summary=f"Run the current version as a job of kind '{_kind}' (body: the input besides the request)",
        responses={
            **_ERRORS,
            **KEY_REUSED,
            **error_answers(
                {
                    422: "The body does not fit the action's input",
                    501: "This server does not run that action yet",
                }
            ),
        },
        operation_id=f"scenario_{_action.replace('-', '_')}",
    )
