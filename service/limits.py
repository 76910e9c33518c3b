"""Request limits applied before a body reaches a route.

* Body size: ``BodyLimitMiddleware`` answers 413 at once when the declared
  ``Content-Length`` is over ``max_body_bytes``, without reading the body; a
  body sent without a length (chunked) is counted as it streams, and reading
  stops with 413 as soon as it passes the limit. Either way no more than the
  limit is ever held in memory.
* JSON: ``StrictJSONRoute`` parses request bodies strictly: duplicate object
  keys, ``NaN``/``Infinity`` literals and numbers that overflow to infinity
  (``1e400``) are errors (422 ``json_invalid``), not silently accepted.
  Python's own guard against huge integers (4,300 digits) and its recursion
  limit (deeply nested arrays) turn into 422 the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

import anyio.to_thread
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PayloadTooLarge, error_response


class BodyLimitMiddleware:
    """413 beyond ``max_body_bytes``: at once from ``Content-Length``, else while the body streams."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # the HTTP server rejects a malformed length itself
                if declared > limit:
                    await error_response(too_large(limit))(scope, receive, send)
                    return
        # Raised inside the route's body read: FastAPI passes HTTPExceptions
        # through to the error handler, which answers 413 in the usual shape.
        await self.app(scope, capped_receive(receive, limit, HTTPException(413, too_large(limit).detail)), send)


def capped_receive(receive: Receive, limit: int, error: Exception) -> Receive:
    """``receive`` that raises ``error`` as soon as more than ``limit`` body bytes have arrived."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise error
        return message

    return counted


async def client_gone(request: Request) -> None:
    """Return when the client has closed the connection; await it only once the body has been read.

    The server's next ASGI message after the body is ``http.disconnect``, sent when the
    client goes away (or once the response is complete).
    """
    while (await request.receive())["type"] != "http.disconnect":
        pass


SOLVE_PATHS = "/v1/allocations"  # POSTs under this path solve


class AdmissionMiddleware:
    """Refuse a solve with 503 before its body is read when the gateway would refuse it anyway.

    Under overload this answers in milliseconds instead of after reading and
    validating a large body only to refuse it. Advisory: the gateway checks
    again when the solve is submitted.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(SOLVE_PATHS):
            gateway = scope["app"].state.gateway
            admission = getattr(gateway, "admission_error", None)
            refusal = admission() if admission is not None else None
            if refusal is not None:
                await error_response(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit:,} bytes (STOCKPILE_MAX_BODY_BYTES).")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key '{key[:100]}' in a JSON object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"'{name}' is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def strict_loads(body: bytes) -> Any:
    """``json.loads`` that rejects duplicate keys, NaN/Infinity and overflowing numbers."""
    try:
        return json.loads(
            body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite_float
        )
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        text = body.decode("utf-8", errors="replace") if len(body) < 1_000 else ""
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise json.JSONDecodeError(message, text, 0) from None


# Bodies at least this large are parsed and validated on a thread, off the event loop.
OFF_LOOP_BYTES = 64 * 1024


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` whose JSON bodies are parsed by ``strict_loads``.

    A large JSON body for a pydantic-model parameter is parsed and validated on
    a worker thread (both run Python callbacks, so the event loop gets the GIL
    back every few milliseconds and keeps answering health checks); FastAPI
    then receives the validated model, which it accepts as it is. Validation
    errors raise ``ValidationError`` (422 through the one error handler);
    a body that is not JSON is left to FastAPI's own path (422 ``json_invalid``).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = getattr(getattr(self.body_field, "field_info", None), "annotation", None)
        model = model if isinstance(model, type) and issubclass(model, BaseModel) else None

        async def strict(request: Request) -> Response:
            request = StrictJSONRequest(request.scope, request.receive)
            if model is not None and _is_json(request):
                body = await request.body()
                if len(body) >= OFF_LOOP_BYTES:
                    try:
                        parsed = await anyio.to_thread.run_sync(strict_loads, body)
                    except json.JSONDecodeError:
                        pass  # FastAPI parses it again and reports it the usual way
                    else:
                        request._json = await anyio.to_thread.run_sync(model.model_validate, parsed)
            return await handler(request)

        return strict


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))
