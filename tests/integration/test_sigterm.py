"""SIGTERM drains the container: a solve in flight finishes with 200, readiness
turns 503 and new solves are refused meanwhile, then the process exits 0.

This test starts its own container from STOCKPILE_IMAGE (``make test-container``
sets it), so it never disturbs the instance the other tests use. Without
STOCKPILE_IMAGE it fails with a message; deselect it explicitly
(``--deselect tests/integration/test_sigterm.py``) when testing an instance
that is not a local container.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from service.client import ServiceUnavailableError, StockpileClient, TransportError
from tests.integration import cases
from tests.integration.conftest import API_KEY

SLOW_S = 8.0  # the in-flight solve's time limit: long enough to signal the container mid-solve


def docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout.strip()


def logs(cid: str) -> str:
    done = subprocess.run(
        ["docker", "logs", "--tail", "40", cid], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout + done.stderr


def wait_for(what: str, condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(interval)


@pytest.fixture
def container() -> Iterator[tuple[str, str]]:
    """(container id, base URL) of a fresh container with one worker."""
    image = os.environ.get("STOCKPILE_IMAGE")
    assert image, "set STOCKPILE_IMAGE to the image under test (make test-container does)"
    env = ["-e", "STOCKPILE_WORKERS=1", "-e", "STOCKPILE_DRAIN_TIMEOUT_S=60"]
    if API_KEY:
        env += ["-e", f"STOCKPILE_API_KEYS={API_KEY}"]
    cid = docker("run", "-d", "-p", "127.0.0.1::8000", *env, image)
    try:
        port = re.search(r"127\.0\.0\.1:(\d+)", docker("port", cid, "8000/tcp"))
        assert port, "docker did not publish port 8000"
        yield cid, f"http://127.0.0.1:{port.group(1)}"
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, timeout=60, check=False)


def solves_in_progress(client: StockpileClient) -> float:
    match = re.search(r"^stockpile_solves_in_progress\s+(\S+)$", client.metrics(), re.MULTILINE)
    assert match, "/metrics has no stockpile_solves_in_progress gauge"
    return float(match.group(1))


def test_sigterm_lets_the_solve_in_flight_finish_then_exits_0(container: tuple[str, str]) -> None:
    cid, url = container
    outcome: dict[str, Any] = {}

    with StockpileClient(url, timeout=120, api_key=API_KEY) as client:
        client.wait_until_ready(timeout=120)
        assert solves_in_progress(client) == 0

        def solve() -> None:
            with StockpileClient(url, timeout=120, api_key=API_KEY) as own:
                try:
                    outcome["result"] = own.allocate(cases.slow(SLOW_S))
                except Exception as exc:  # noqa: BLE001 - any failure is reported by the assertions below
                    outcome["error"] = exc

        in_flight = threading.Thread(target=solve)
        in_flight.start()
        try:
            wait_for("the slow solve to start", lambda: solves_in_progress(client) == 1, timeout=30)
            signalled = time.monotonic()
            docker("kill", "--signal", "TERM", cid)

            # Draining: still answering, but not ready, and refusing new solves.
            wait_for("/readyz to turn 503", lambda: client.ready() is False, timeout=10)
            with pytest.raises(ServiceUnavailableError) as refused:
                client.allocate(cases.MIN_COST)
            assert refused.value.retry_after is not None and refused.value.retry_after > 0
            assert client.health() is True
        finally:
            in_flight.join(timeout=SLOW_S + 60)
        assert not in_flight.is_alive(), "the in-flight request never returned"

    assert "error" not in outcome, f"the in-flight solve failed: {outcome.get('error')!r}"
    result = outcome["result"]
    assert result.status.value == "feasible", result.status  # stopped by its time limit, with an allocation
    assert result.allocations
    assert result.solve_seconds >= SLOW_S * 0.9

    exit_code = int(docker("wait", cid, timeout=90))
    stopped_after = time.monotonic() - signalled
    assert exit_code == 0, logs(cid)
    assert stopped_after < SLOW_S + 30
    with StockpileClient(url, timeout=2) as gone, pytest.raises(TransportError):
        gone.health()
