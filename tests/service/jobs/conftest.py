"""Fixtures for the job and scenario tests: the app on a fresh database of each kind."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests import builders as b


def small_request(budget: float = 1_000_000.0) -> dict[str, Any]:
    return {
        "budget": budget,
        "minerals": [b.mineral("co", target=20), b.mineral("sb", target=10)],
        "suppliers": [
            b.offer("a", mineral="co", country="AU", capacity=15, price=35_000),
            b.offer("b", mineral="co", country="CN", capacity=50, price=29_000),
            b.offer("c", mineral="sb", country="CA", capacity=8, price=20_000),
            b.offer("d", mineral="sb", country="CN", capacity=30, price=12_000),
        ],
    }


@contextlib.contextmanager
def app_client(database_url: str, **overrides: Any) -> Iterator[TestClient]:
    settings = Settings(workers=1, database_url=database_url, job_poll_s=0.05, **overrides)
    with TestClient(create_app(settings)) as client:
        wait_for(lambda: client.get("/readyz").status_code == 200)
        yield client


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with app_client(database_url) as c:
        yield c


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


def finished(client: TestClient, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = client.get(f"/v1/jobs/{job_id}").json()
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    return wait_for(done, timeout)
