"""Fixtures for the reliability tests: real servers on loopback, real worker processes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from service import examples
from service.app import create_app
from service.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def ended(pid: int) -> bool:
    """Whether process ``pid`` has ended: reaped (no /proc entry), or dead and not yet reaped (Z)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:  # FileNotFoundError, or ProcessLookupError when reaped while being read
        return True


class LiveServer:
    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        self.gateway = app.state.gateway

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 60.0), **kwargs)

    def wait_ready(self, workers: int | None = None) -> None:
        """Until /readyz is 200 and (optionally) ``workers`` workers are idle."""
        with self.client() as c:
            wait_until(lambda: c.get("/readyz").status_code == 200)
        if workers is not None:
            wait_until(lambda: self.gateway.stats().workers == workers and self.gateway._pool.idle() == workers)


@contextlib.contextmanager
def live_server(**overrides: Any) -> Iterator[LiveServer]:
    """The real app (worker pool and all) served by uvicorn on a free loopback port, in a thread."""
    port = free_port()
    settings = Settings(host="127.0.0.1", port=port, **overrides)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=60)
        yield LiveServer(app, port)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the test server did not stop"


@pytest.fixture(scope="session")
def dla_request() -> dict[str, Any]:
    return examples.catalogue()["dla-2025"]["request"]
