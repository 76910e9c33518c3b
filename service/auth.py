"""Optional API-key authentication (off unless ``STOCKPILE_API_KEYS`` is set).

A key is accepted from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``
and compared with every configured key in constant time
(``hmac.compare_digest``, and no early exit on a match). Without a valid key
every path answers 401 except the health checks, which orchestrators call
without credentials, and the spreadsheet endpoints of a saved scenario
(``TOKEN_PATHS``: GET, and OPTIONS and HEAD) when they carry a ``?token=``, which the route
checks against the scenario instead. Keys and tokens are never logged.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import Unauthorized, error_response

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# Spreadsheet cells cannot send headers: these GETs may carry a scenario token in the query instead.
TOKEN_PATHS = re.compile(r"^/v1/scenarios/[^/]+/(value|allocation\.csv|summary\.csv)$")


def carries_token(scope: Scope) -> bool:
    """A GET of a token path with a ``token`` query parameter (validated by the route, not here).

    Also OPTIONS and HEAD: LibreOffice's WEBSERVICE asks OPTIONS before its GET, and gives up
    on a 401 (a 405 it takes in its stride); neither reveals anything.
    """
    if scope.get("method") not in ("GET", "HEAD", "OPTIONS") or not TOKEN_PATHS.match(scope["path"]):
        return False
    return any(part.split(b"=", 1)[0] == b"token" for part in scope.get("query_string", b"").split(b"&"))


# The web page and its files hold no data: served without a key, the page asks for one when the API answers 401.
OPEN_PAGE_PATHS = frozenset({"/"})
OPEN_PAGE_PREFIX = "/page/static/"


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


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path in OPEN_PAGE_PATHS or path.startswith(OPEN_PAGE_PREFIX)


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: Sequence[bytes]) -> None:
        self.app = app
        self.keys = list(keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or is_open(scope["path"]) or carries_token(scope):
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
