"""The OpenAPI description as clients and contract tests read it.

Operation ids: every operation's id is its route's name, which is the route function's name
(``async def allocate`` -> ``allocate``) unless the route sets ``name=``. Ids are therefore short,
snake_case and stable while the function keeps its name; they must be unique across the app
(``tests/service/test_openapi.py`` checks it), so a new route picks a function name that says what it
does (``get_example``, ``list_examples``, ``allocate_xlsx``).

Responses: every operation lists what it can really answer. Besides what each route declares, the
middleware in front of every route adds its own answers here, for routes added later too: 401 where
API keys apply (every path but the health checks), 413 where there is a body to limit, 503 where
the admission check refuses solves, and every 422 is the service's ``ErrorBody`` (never FastAPI's
``HTTPValidationError``, which the error handlers never send).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from service.auth import OPEN_PATHS
from service.errors import ErrorBody
from service.limits import SOLVE_PATHS

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

# The answers middleware gives before a route runs, by status: description, and to which operations.
UNAUTHORIZED = "API keys are configured and none valid was sent (`Authorization: Bearer KEY` or `X-API-Key: KEY`)"
TOO_LARGE = "The body is larger than the configured limit"
UNAVAILABLE = "No solver capacity now (queue full, no worker free in time, shutting down); see Retry-After"
INVALID = "The request breaks the contract: every problem is listed with its path"


def operation_id(route: APIRoute) -> str:
    """The operation id of a route: its name (see the module's docstring)."""
    return route.name


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _refers_to_validation_error(node: Any) -> bool:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        return any(ref.endswith(f"/{name}") for name in _FASTAPI_VALIDATION) or any(
            _refers_to_validation_error(v) for v in node.values()
        )
    if isinstance(node, list):
        return any(_refers_to_validation_error(v) for v in node)
    return False


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """The description with the middleware's answers added and every 422 documented as ``ErrorBody``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            responses = operation.setdefault("responses", {})
            invalid = responses.get("422")
            if invalid is not None and _refers_to_validation_error(invalid):
                responses["422"] = _error(INVALID)
            if path not in OPEN_PATHS:
                responses.setdefault("401", _error(UNAUTHORIZED))
            if "requestBody" in operation:
                responses.setdefault("413", _error(TOO_LARGE))
            if method == "post" and path.startswith(SOLVE_PATHS):
                responses.setdefault("503", _error(UNAVAILABLE))
    if not _refers_to_validation_error(schema.get("paths", {})):
        for name in _FASTAPI_VALIDATION:
            components.pop(name, None)
    return schema


def install(app: FastAPI) -> None:
    """Serve the completed description at ``/openapi.json`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                    servers=app.servers,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
