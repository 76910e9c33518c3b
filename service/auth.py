"""Optional API-key authentication (off unless ``STOCKPILE_API_KEYS`` is set).

A key is accepted from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``
and compared with every configured key in constant time
(``hmac.compare_digest``, and no early exit on a match). Without a valid key
every path answers 401 except the health checks, which orchestrators call
without credentials. Keys are never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import Unauthorized, error_response

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def key_is_valid(presented: bytes, keys: Sequence[bytes]) -> bool:
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(presented, key)
    return ok


def presented_key(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value:
            return value.strip()
    return None


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: Sequence[bytes]) -> None:
        self.app = app
        self.keys = list(keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        key = presented_key(scope)
        if key is not None and key_is_valid(key, self.keys):
            await self.app(scope, receive, send)
            return
        detail = (
            "A valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
            if key is None
            else "The API key is not valid."
        )
        await error_response(Unauthorized(detail))(scope, receive, send)
