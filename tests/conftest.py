"""Fixtures shared by the test modules."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="session")
def api() -> Iterator[TestClient]:
    """The app with one solver worker, ready (workers warm up in the background)."""
    with TestClient(create_app(Settings(workers=1))) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service never became ready"
            time.sleep(0.05)
        yield client
