"""A small typed HTTP client for the Stockpile API, sync and async, on httpx.

    from service.client import StockpileClient

    with StockpileClient("http://localhost:8000") as client:
        request = client.example("dla-2025")          # an AllocationRequest
        result = client.allocate(request)             # an AllocationResult
        print(result.status, result.total_spend)

The what-if endpoints have their methods too: ``compare``, ``frontier``,
``policy_costs`` and ``apply_changes`` take the analysis's request model
(``models.analyses``) or a plain dict, and return its answer model.

``AsyncStockpileClient`` has the same methods as coroutines. Requests and
results are the service's own pydantic models (``models.AllocationRequest``,
``models.AllocationResult``); ``allocate`` also takes a plain dict, which is
sent as it is so that the server reports every problem with it.

Every failure is a ``ClientError``:

    ClientError                   base class; catch this to catch everything
    ├── TransportError            no HTTP response: connection refused, timeout, reset...
    │                             (the httpx exception is ``__cause__``)
    └── APIError                  the server answered with an error status
        │                         (.status_code, .error, .detail, .body)
        ├── InvalidRequestError   422: .problems lists every problem (path, message, code)
        ├── ServiceUnavailableError 503: no capacity now or shutting down; .retry_after seconds (or None)
        ├── AuthenticationError   401: API keys are configured and none valid was sent
        └── NotFoundError         404: e.g. an unknown example name

Other statuses (413, 500...) raise ``APIError`` itself.

``health()`` and ``ready()`` never raise for a 503: they return ``False``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from models import AllocationRequest, AllocationResult, Problem
from models.analyses import (
    ComparisonRequest,
    ComparisonResult,
    FrontierRequest,
    FrontierResult,
    PolicyCostsRequest,
    PolicyCostsResult,
)
from models.changes import ChangesRequest

__all__ = [
    "DEFAULT_TIMEOUT",
    "APIError",
    "AsyncStockpileClient",
    "AuthenticationError",
    "ClientError",
    "ExampleInfo",
    "InvalidRequestError",
    "NotFoundError",
    "NotReadyError",
    "ServiceUnavailableError",
    "StockpileClient",
    "TransportError",
]

#: Connect quickly or fail; wait long for a solve (the server's maximum time
#: limit is 120 s by default, plus model building and the answer's check).
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=180.0, write=30.0, pool=10.0)

TimeoutTypes = float | httpx.Timeout | None


class ClientError(Exception):
    """Base of every error this client raises."""


class TransportError(ClientError):
    """No HTTP response was received (the httpx error is ``__cause__``)."""


class NotReadyError(ClientError, TimeoutError):
    """``wait_until_ready`` gave up: ``/readyz`` did not answer 200 in time (also a ``TimeoutError``)."""


class APIError(ClientError):
    """The server answered with an error status."""

    def __init__(self, status_code: int, error: str, detail: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status_code} {error}: {detail}")
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.body = body


class InvalidRequestError(APIError):
    """422: the request breaks the contract; ``problems`` lists every problem."""

    def __init__(self, status_code: int, error: str, detail: str, body: Any, problems: list[Problem]) -> None:
        super().__init__(status_code, error, detail, body)
        self.problems = problems

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines += [f"  {p.path}: {p.message}" for p in self.problems]
        return "\n".join(lines)


class ServiceUnavailableError(APIError):
    """503: no capacity now; retry after ``retry_after`` seconds (None if not given)."""

    def __init__(self, status_code: int, error: str, detail: str, body: Any, retry_after: float | None) -> None:
        super().__init__(status_code, error, detail, body)
        self.retry_after = retry_after


class NotFoundError(APIError):
    """404: no such example or resource."""


class AuthenticationError(APIError):
    """401: the server wants an API key (``api_key=...``) and none valid was sent."""


class ExampleInfo(BaseModel):
    """One entry of ``GET /v1/examples``."""

    name: str
    title: str
    description: str


_PROBLEMS = TypeAdapter(list[Problem])
_EXAMPLES = TypeAdapter(list[ExampleInfo])


# --- shared between the sync and async clients -------------------------------------------


def _payload(request: AllocationRequest | Mapping[str, Any]) -> Any:
    if isinstance(request, AllocationRequest):
        # Only the fields the caller set: an unset time limit must stay unset
        # so that the server's default applies, as it would for raw JSON.
        return request.model_dump(mode="json", exclude_unset=True)
    if isinstance(request, Mapping):
        return dict(request)
    raise TypeError(f"request must be an AllocationRequest or a mapping, not {type(request).__name__}")


def _body(body: BaseModel | Mapping[str, Any]) -> Any:
    """An analysis body as JSON: a model's fields as set (by alias: a frontier's ``from``), or a mapping."""
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if isinstance(body, Mapping):
        return dict(body)
    raise TypeError(f"body must be a model or a mapping, not {type(body).__name__}")


# What-if endpoints: path and the model of their answer.
_ANALYSES: dict[str, tuple[str, type[BaseModel]]] = {
    "compare": ("/v1/comparisons", ComparisonResult),
    "frontier": ("/v1/frontiers", FrontierResult),
    "policy_costs": ("/v1/policy-costs", PolicyCostsResult),
    "apply_changes": ("/v1/changes/apply", AllocationRequest),
}


def _parser(model: type[BaseModel]) -> Any:
    return lambda response: model.model_validate_json(response.content)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        error = str(body.get("error", "http_error"))
        detail = str(body.get("detail", response.reason_phrase))
    else:  # not the service's JSON (e.g. a proxy's HTML page)
        error, detail = "http_error", (str(body)[:500] or response.reason_phrase)
    status = response.status_code
    if status == 422:
        raw = body.get("problems", []) if isinstance(body, dict) else []
        try:
            problems = _PROBLEMS.validate_python(raw)
        except ValidationError:
            problems = []
        raise InvalidRequestError(status, error, detail, body, problems)
    if status == 503:
        raise ServiceUnavailableError(status, error, detail, body, _retry_after(response))
    if status == 404:
        raise NotFoundError(status, error, detail, body)
    if status == 401:
        raise AuthenticationError(status, error, detail, body)
    raise APIError(status, error, detail, body)


def _decode(response: httpx.Response, parse: Any) -> Any:
    _raise_for_status(response)
    try:
        return parse(response)
    except (ValueError, ValidationError) as exc:
        raise APIError(response.status_code, "bad_response", f"unexpected response body: {exc}", response.text) from exc


def _result(response: httpx.Response) -> AllocationResult:
    return AllocationResult.model_validate_json(response.content)


def _example_request(response: httpx.Response) -> AllocationRequest:
    return AllocationRequest.model_validate(response.json()["request"])


def _examples(response: httpx.Response) -> list[ExampleInfo]:
    return _EXAMPLES.validate_json(response.content)


def _base_url(base_url: str) -> str:
    return base_url.rstrip("/")


def _headers(headers: Mapping[str, str] | None, api_key: str | None) -> dict[str, str]:
    out = dict(headers or {})
    if api_key is not None:
        out["Authorization"] = f"Bearer {api_key}"
    return out


def _text(response: httpx.Response) -> str:
    return response.text


# --- sync --------------------------------------------------------------------------------


class StockpileClient:
    """Blocking client. Use as a context manager, or call ``close()``.

    ``timeout`` is seconds or an ``httpx.Timeout`` (default: ``DEFAULT_TIMEOUT``);
    ``api_key`` is sent as ``Authorization: Bearer``; ``headers`` go with every
    request. ``transport`` is passed to httpx (e.g. a mock in tests);
    ``http_client`` replaces the internal ``httpx.Client`` altogether (its base
    URL must be set, and ``close()`` leaves it open).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._owned = http_client is None
        self._http = http_client or httpx.Client(
            base_url=_base_url(base_url), timeout=timeout, headers=_headers(headers, api_key), transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    def allocate(
        self, request: AllocationRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None
    ) -> AllocationResult:
        """Solve a request: ``POST /v1/allocations``.

        ``timeout`` (seconds or ``httpx.Timeout``) replaces the client's for this call;
        None keeps the client's.
        """
        extra = {} if timeout is None else {"timeout": timeout}
        return _decode(self._send("POST", "/v1/allocations", json=_payload(request), **extra), _result)

    def compare(self, body: ComparisonRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None) -> ComparisonResult:
        """Scenarios side by side: ``POST /v1/comparisons``."""
        return self._analysis("compare", body, timeout)

    def frontier(self, body: FrontierRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None) -> FrontierResult:
        """The budget frontier: ``POST /v1/frontiers``."""
        return self._analysis("frontier", body, timeout)

    def policy_costs(
        self, body: PolicyCostsRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None
    ) -> PolicyCostsResult:
        """What each rule costs: ``POST /v1/policy-costs``."""
        return self._analysis("policy_costs", body, timeout)

    def apply_changes(self, body: ChangesRequest | Mapping[str, Any]) -> AllocationRequest:
        """The request a list of changes makes: ``POST /v1/changes/apply``."""
        return self._analysis("apply_changes", body, None)

    def _analysis(self, name: str, body: Any, timeout: TimeoutTypes) -> Any:
        path, model = _ANALYSES[name]
        extra = {} if timeout is None else {"timeout": timeout}
        return _decode(self._send("POST", path, json=_body(body), **extra), _parser(model))

    def health(self) -> bool:
        """``GET /healthz``: is the process up? Transport errors raise ``TransportError``."""
        return self._send("GET", "/healthz").status_code == 200

    def ready(self) -> bool:
        """``GET /readyz``: can it solve now? False for 503 (starting, draining)."""
        response = self._send("GET", "/readyz")
        if response.status_code == 503:
            return False
        _raise_for_status(response)
        return True

    def wait_until_ready(self, timeout: float = 60.0, interval: float = 0.2) -> None:
        """Poll ``/readyz`` until it answers 200; ``NotReadyError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.ready():
                    return
            except TransportError:
                pass
            if time.monotonic() >= deadline:
                raise NotReadyError(f"the service was not ready within {timeout:g} s")
            time.sleep(interval)

    def examples(self) -> list[ExampleInfo]:
        """``GET /v1/examples``: the built-in examples."""
        return _decode(self._send("GET", "/v1/examples"), _examples)

    def example(self, name: str) -> AllocationRequest:
        """``GET /v1/examples/{name}``: a built-in example's request (``NotFoundError`` if unknown)."""
        return _decode(self._send("GET", f"/v1/examples/{quote(name, safe='')}"), _example_request)

    def metrics(self) -> str:
        """``GET /metrics``: the Prometheus text exposition."""
        return _decode(self._send("GET", "/metrics"), _text)


# --- async -------------------------------------------------------------------------------


class AsyncStockpileClient:
    """The same client for asyncio: every method is a coroutine. ``async with`` or ``await aclose()``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(
            base_url=_base_url(base_url), timeout=timeout, headers=_headers(headers, api_key), transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    async def allocate(
        self, request: AllocationRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None
    ) -> AllocationResult:
        """Solve a request: ``POST /v1/allocations``.

        ``timeout`` (seconds or ``httpx.Timeout``) replaces the client's for this call;
        None keeps the client's.
        """
        extra = {} if timeout is None else {"timeout": timeout}
        return _decode(await self._send("POST", "/v1/allocations", json=_payload(request), **extra), _result)

    async def compare(
        self, body: ComparisonRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None
    ) -> ComparisonResult:
        """Scenarios side by side: ``POST /v1/comparisons``."""
        return await self._analysis("compare", body, timeout)

    async def frontier(
        self, body: FrontierRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None
    ) -> FrontierResult:
        """The budget frontier: ``POST /v1/frontiers``."""
        return await self._analysis("frontier", body, timeout)

    async def policy_costs(
        self, body: PolicyCostsRequest | Mapping[str, Any], *, timeout: TimeoutTypes = None
    ) -> PolicyCostsResult:
        """What each rule costs: ``POST /v1/policy-costs``."""
        return await self._analysis("policy_costs", body, timeout)

    async def apply_changes(self, body: ChangesRequest | Mapping[str, Any]) -> AllocationRequest:
        """The request a list of changes makes: ``POST /v1/changes/apply``."""
        return await self._analysis("apply_changes", body, None)

    async def _analysis(self, name: str, body: Any, timeout: TimeoutTypes) -> Any:
        path, model = _ANALYSES[name]
        extra = {} if timeout is None else {"timeout": timeout}
        return _decode(await self._send("POST", path, json=_body(body), **extra), _parser(model))

    async def health(self) -> bool:
        """``GET /healthz``: is the process up?"""
        return (await self._send("GET", "/healthz")).status_code == 200

    async def ready(self) -> bool:
        """``GET /readyz``: can it solve now? False for 503 (starting, draining)."""
        response = await self._send("GET", "/readyz")
        if response.status_code == 503:
            return False
        _raise_for_status(response)
        return True

    async def wait_until_ready(self, timeout: float = 60.0, interval: float = 0.2) -> None:
        """Poll ``/readyz`` until it answers 200; ``NotReadyError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if await self.ready():
                    return
            except TransportError:
                pass
            if time.monotonic() >= deadline:
                raise NotReadyError(f"the service was not ready within {timeout:g} s")
            await asyncio.sleep(interval)

    async def examples(self) -> list[ExampleInfo]:
        """``GET /v1/examples``: the built-in examples."""
        return _decode(await self._send("GET", "/v1/examples"), _examples)

    async def example(self, name: str) -> AllocationRequest:
        """``GET /v1/examples/{name}``: a built-in example's request (``NotFoundError`` if unknown)."""
        return _decode(await self._send("GET", f"/v1/examples/{quote(name, safe='')}"), _example_request)

    async def metrics(self) -> str:
        """``GET /metrics``: the Prometheus text exposition."""
        return _decode(await self._send("GET", "/metrics"), _text)
