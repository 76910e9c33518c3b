"""service.client against the real app served by uvicorn on a loopback port
(in-process solver, no worker processes), and against mock transports for
what a healthy server never sends."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from models import AllocationRequest, AllocationResult
from service import examples
from service.app import create_app
from service.client import (
    APIError,
    AsyncStockpileClient,
    AuthenticationError,
    ClientError,
    InvalidRequestError,
    NotFoundError,
    NotReadyError,
    ServiceUnavailableError,
    StockpileClient,
    TransportError,
)
from service.errors import EngineFailure, ServiceUnavailable
from service.settings import Settings
from service.solving import InProcessGateway
from tests.integration import cases


@contextmanager
def serving(settings: Settings, gateway: InProcessGateway) -> Iterator[str]:
    """Serve create_app(settings, gateway) on a free loopback port in a thread; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, gateway), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive(), "the test server died during start-up"
            assert time.monotonic() < deadline, "the test server did not start within 60 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class RefusingGateway(InProcessGateway):
    """Never ready; every solve fails the way ``error`` says."""

    def __init__(self, settings: Settings, error: Exception) -> None:
        super().__init__(settings)
        self.error = error

    async def start(self) -> None:  # no warm-up solve
        pass

    def ready(self) -> bool:
        return False

    async def solve(self, request: AllocationRequest) -> AllocationResult:
        raise self.error


SETTINGS = Settings(workers=1, default_time_limit_s=20, max_time_limit_s=30)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(SETTINGS, InProcessGateway(SETTINGS)) as u:
        yield u


@pytest.fixture(scope="module")
def busy_url() -> Iterator[str]:
    gateway = RefusingGateway(SETTINGS, ServiceUnavailable("All workers are busy.", retry_after=7))
    with serving(SETTINGS, gateway) as u:
        yield u


@pytest.fixture
def client(url: str) -> Iterator[StockpileClient]:
    with StockpileClient(url, timeout=60) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the happy path --------------------------------------------------------------------


def test_health_and_ready(client: StockpileClient) -> None:
    assert client.health() is True
    assert client.ready() is True
    client.wait_until_ready(timeout=1)


def test_examples_and_the_dla_request(client: StockpileClient) -> None:
    assert [e.name for e in client.examples()] == examples.names()
    assert client.example("dla-2025") == examples.example_request("dla-2025")


def test_allocate_takes_a_model_or_a_dict_and_returns_the_result_model(client: StockpileClient) -> None:
    from_dict = client.allocate(cases.MIN_COST)
    from_model = client.allocate(AllocationRequest.model_validate(cases.MIN_COST))
    assert isinstance(from_dict, AllocationResult)
    assert from_dict.status.value == "optimal"
    assert from_dict.total_spend == pytest.approx(2_250, rel=1e-6)
    assert {a.supplier_id: a.quantity for a in from_model.allocations} == pytest.approx({"au": 15, "cn": 5}, rel=1e-6)


def test_allocate_reports_infeasible_as_a_result_not_an_error(client: StockpileClient) -> None:
    result = client.allocate(cases.INFEASIBLE)
    assert result.status.value == "infeasible"
    assert any(f.severity.value == "error" and f.mineral == "cobalt" for f in result.diagnostics)


def test_a_model_is_sent_with_only_the_fields_the_caller_set() -> None:
    """An unset time limit must stay unset, so that the server's default applies."""
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(503, json={"error": "unavailable", "detail": "stop here"})

    with StockpileClient("http://stockpile.test", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(ServiceUnavailableError):
            c.allocate(AllocationRequest.model_validate(cases.MIN_COST))
        with pytest.raises(ServiceUnavailableError):
            c.allocate(AllocationRequest.model_validate({**cases.MIN_COST, "options": {"time_limit_s": 3}}))
    assert "options" not in sent[0]
    assert sent[0]["objective"] == "min_cost"
    assert sent[1]["options"] == {"time_limit_s": 3.0}


def test_allocate_rejects_what_is_not_a_request(client: StockpileClient) -> None:
    with pytest.raises(TypeError):
        client.allocate(["not", "a", "request"])  # type: ignore[arg-type]


# --- errors ----------------------------------------------------------------------------


def test_422_carries_every_problem(client: StockpileClient) -> None:
    body = cases.cobalt(-1, "max_coverage")
    body["suppliers"][0]["country"] = "XX"
    with pytest.raises(InvalidRequestError) as caught:
        client.allocate(body)
    error = caught.value
    assert isinstance(error, APIError) and isinstance(error, ClientError)
    assert (error.status_code, error.error) == (422, "invalid_request")
    assert {p.path for p in error.problems} == {"budget", "suppliers[0].country"}
    assert "suppliers[0].country" in str(error)


def test_404_for_an_unknown_example(client: StockpileClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.example("no/such example")
    assert caught.value.status_code == 404


def test_503_carries_retry_after_and_not_ready_is_false(busy_url: str) -> None:
    with StockpileClient(busy_url) as c:
        assert c.health() is True
        assert c.ready() is False
        with pytest.raises(NotReadyError) as not_ready:
            c.wait_until_ready(timeout=0.3, interval=0.05)
        assert isinstance(not_ready.value, ClientError) and isinstance(not_ready.value, TimeoutError)
        with pytest.raises(ServiceUnavailableError) as caught:
            c.allocate(cases.MIN_COST)
    assert caught.value.status_code == 503
    assert caught.value.retry_after == 7
    assert caught.value.detail == "All workers are busy."


def test_500_is_a_plain_api_error() -> None:
    settings = SETTINGS
    with (
        serving(settings, RefusingGateway(settings, EngineFailure("the engine broke"))) as u,
        StockpileClient(u) as c,
        pytest.raises(APIError) as caught,
    ):
        c.allocate(cases.MIN_COST)
    error = caught.value
    assert type(error) is APIError
    assert (error.status_code, error.error, error.detail) == (500, "engine_failure", "the engine broke")


def test_401_without_the_api_key_and_200_with_it() -> None:
    settings = Settings(workers=1, api_keys="sesame")
    with serving(settings, InProcessGateway(settings)) as u:
        with StockpileClient(u) as anonymous:
            assert anonymous.health() is True  # health stays open
            with pytest.raises(AuthenticationError) as caught:
                anonymous.examples()
        with StockpileClient(u, api_key="sesame") as keyed:
            assert "dla-2025" in [e.name for e in keyed.examples()]
    assert caught.value.status_code == 401


def test_connection_refused_is_a_transport_error() -> None:
    with StockpileClient(f"http://127.0.0.1:{free_port()}", timeout=2) as c:
        with pytest.raises(TransportError) as caught:
            c.health()
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        with pytest.raises(NotReadyError):
            c.wait_until_ready(timeout=0.3, interval=0.05)


def test_timeouts_are_configurable_and_become_transport_errors() -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        raise httpx.ReadTimeout("no answer", request=request)

    with StockpileClient("http://stockpile.test", timeout=3, transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(TransportError) as caught:
            c.allocate(cases.MIN_COST)
        with pytest.raises(TransportError):
            c.allocate(cases.MIN_COST, timeout=httpx.Timeout(5, read=250))
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert seen[0]["read"] == 3
    assert seen[1]["read"] == 250 and seen[1]["connect"] == 5


def test_a_proxy_error_page_and_a_garbled_result_are_api_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/allocations":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        return httpx.Response(200, json=[{"name": "x"}])  # examples without title/description

    with StockpileClient("http://stockpile.test", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(APIError) as proxy:
            c.allocate(cases.MIN_COST)
        with pytest.raises(APIError) as garbled:
            c.examples()
    assert (proxy.value.status_code, proxy.value.error) == (502, "http_error")
    assert "Bad Gateway" in proxy.value.detail
    assert (garbled.value.status_code, garbled.value.error) == (200, "bad_response")


# --- async -----------------------------------------------------------------------------


def test_async_client_does_the_same(url: str, busy_url: str) -> None:
    async def run() -> None:
        async with AsyncStockpileClient(url, timeout=60) as c:
            assert await c.health() is True
            await c.wait_until_ready(timeout=1)
            assert "dla-2025" in [e.name for e in await c.examples()]
            request = await c.example("dla-2025")
            results = await asyncio.gather(
                c.allocate(cases.MAX_COVERAGE), c.allocate(cases.MIN_COST), c.allocate(request)
            )
            assert [r.status.value for r in results] == ["optimal", "optimal", "optimal"]
            assert results[0].coverage_score == pytest.approx(18.333333 / 20, rel=1e-5)
            assert results[1].total_spend == pytest.approx(2_250, rel=1e-6)
            with pytest.raises(InvalidRequestError) as caught:
                await c.allocate({**cases.MIN_COST, "budget": "lots"})
            assert [p.path for p in caught.value.problems] == ["budget"]
            with pytest.raises(NotFoundError):
                await c.example("nope")
        async with AsyncStockpileClient(busy_url) as busy:
            assert await busy.ready() is False
            with pytest.raises(ServiceUnavailableError) as unavailable:
                await busy.allocate(cases.MIN_COST)
            assert unavailable.value.retry_after == 7
        async with AsyncStockpileClient(f"http://127.0.0.1:{free_port()}", timeout=2) as gone:
            with pytest.raises(TransportError):
                await gone.health()

    asyncio.run(run())


def test_the_in_process_server_answers_a_model_too_large_for_memory_with_422(monkeypatch):
    from service import solving

    def out_of_memory(*_, **__):
        raise MemoryError

    gateway = InProcessGateway(SETTINGS)
    with TestClient(create_app(SETTINGS, gateway)) as c:
        monkeypatch.setattr(solving, "allocate", out_of_memory)  # after the warm-up solve
        r = c.post("/v1/allocations", json=examples.catalogue()["dla-2025"]["request"])
    assert r.status_code == 422 and r.json()["error"] == "model_too_large"
    assert "more memory than the server has" in r.json()["detail"]
