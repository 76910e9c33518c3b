"""The service's exceptions and the one place they become HTTP responses.

    StockpileError            500  base; anything unexpected is reported as this
    ├── Unauthorized          401  API keys are configured and the request has no valid one
    ├── InvalidRequest        422  the request breaks the contract (lists every problem)
    ├── ModelTooLarge         422  the model outgrew a solver worker's memory cap
    ├── PayloadTooLarge       413  the body is larger than the configured limit
    ├── NotFound              404  no such example or resource
    ├── Conflict              409  the resource's state forbids it (Idempotency-Key reused, job not finished)
    ├── PreconditionFailed    412  If-Match names a version that is no longer the current one
    ├── NotAvailable          501  a job kind this server does not run (yet)
    ├── ServiceUnavailable    503  no solver capacity now; retry after ``retry_after`` s
    ├── ClientGone            499  the client hung up before its answer; its solve was stopped (nothing is sent)
    └── EngineFailure         500  the engine failed on a valid request (a bug: reported, never hidden)

Engine exceptions (``solvers.SolverError``) are mapped to ``EngineFailure``;
pydantic's and FastAPI's validation errors to ``InvalidRequest``. Every error
body has the same shape: ``{"error": code, "detail": message, ...}``
(``ErrorBody``); middleware that answers before routing uses ``error_response``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from models import Problem, problems_from_errors
from solvers import SolverError

log = logging.getLogger("stockpile.errors")


class StockpileError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, object]:
        return {"error": self.code, "detail": self.detail}

    def headers(self) -> dict[str, str] | None:
        return None


class ErrorBody(BaseModel):
    """The shape of every error response (for the OpenAPI description)."""

    error: str
    detail: str
    problems: list[Problem] | None = None


def error_answers(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """Error answers for a route's ``responses=`` (the OpenAPI description): each status says when,
    and its body is an ``ErrorBody``."""
    return {status: {"model": ErrorBody, "description": text} for status, text in descriptions.items()}


# Shared by the routes that take an Idempotency-Key. (401, 413 and a body's 422 are added to every
# operation they apply to by ``service.openapi``, in one place: routes list only their own answers.)
KEY_REUSED = error_answers({409: "The Idempotency-Key was used with another body"})


class Unauthorized(StockpileError):
    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="stockpile"'}


class InvalidRequest(StockpileError):
    status_code = 422
    code = "invalid_request"

    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        super().__init__(f"The request has {n} problem{'s' if n != 1 else ''}; each is listed with its path.")
        self.problems = problems

    def body(self) -> dict[str, object]:
        return {**super().body(), "problems": [p.model_dump() for p in self.problems]}


class PayloadTooLarge(StockpileError):
    status_code = 413
    code = "payload_too_large"


class ModelTooLarge(StockpileError):
    status_code = 422
    code = "model_too_large"


class NotFound(StockpileError):
    status_code = 404
    code = "not_found"


class Conflict(StockpileError):
    status_code = 409
    code = "conflict"

    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail)
        self.code = code


class PreconditionFailed(StockpileError):
    status_code = 412
    code = "precondition_failed"

    def __init__(self, detail: str, etag: str | None = None) -> None:
        super().__init__(detail)
        self.etag = etag

    def headers(self) -> dict[str, str] | None:
        return {"ETag": self.etag} if self.etag else None


class NotAvailable(StockpileError):
    status_code = 501
    code = "not_available"


class ServiceUnavailable(StockpileError):
    status_code = 503
    code = "unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ClientGone(StockpileError):
    """The client closed the connection while its request waited or was solved (nginx's 499).

    Its solve is stopped so that the worker serves the next request; the response is for the
    logs and metrics only, as nobody reads it.
    """

    status_code = 499
    code = "client_closed_request"


class EngineFailure(StockpileError):
    status_code = 500
    code = "engine_failure"


# Error codes for HTTP errors that Starlette raises itself (unknown path, wrong method, ...).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def error_response(exc: StockpileError) -> JSONResponse:
    """The one rendering of a service error, for handlers and middleware alike."""
    if exc.status_code >= 500 and not isinstance(exc, ServiceUnavailable):  # 503s are load, not faults
        log.error("request failed: %s", exc.detail)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())


def allowed_methods(request: Request) -> str:
    """The methods of every route whose path matches the request's."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(request.url.path):
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to one JSON error shape."""

    @app.exception_handler(StockpileError)
    async def _stockpile(_: Request, exc: StockpileError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await _stockpile(request, InvalidRequest(problems_from_errors(exc.errors(), drop_prefix=1)))

    @app.exception_handler(ValidationError)
    async def _pydantic(request: Request, exc: ValidationError) -> JSONResponse:
        return await _stockpile(request, InvalidRequest(problems_from_errors(exc.errors(include_url=False))))

    @app.exception_handler(SolverError)
    async def _engine(request: Request, exc: SolverError) -> JSONResponse:
        return await _stockpile(request, EngineFailure(str(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that cannot be parsed (malformed multipart or form): 422 as documented
            problem = Problem(path="(request)", message=str(exc.detail), code="malformed_body")
            return error_response(InvalidRequest([problem]))
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        body = {"error": code, "detail": str(exc.detail)}
        headers = exc.headers
        if exc.status_code == 405:  # every method of the path (Starlette names only its first route's)
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return await _stockpile(request, StockpileError("An unexpected error occurred; it has been logged."))
