"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

# Servers started by the tests keep their default database out of the checkout.
os.environ.setdefault("STOCKPILE_DATA_DIR", tempfile.mkdtemp(prefix="stockpile-test-data-"))

from service.app import create_app
from service.settings import Settings

pytest_plugins = ["tests.browser"]  # the session's Chromium (the ``browser`` fixture), for any test


@pytest.fixture(scope="session")
def api() -> Iterator[TestClient]:
    """The app with one solver worker, ready (workers warm up in the background)."""
    with TestClient(create_app(Settings(workers=1))) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service never became ready"
            time.sleep(0.05)
        yield client


# -- databases: every storage test runs on SQLite and on a real PostgreSQL (tests/postgres.py) --


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    from tests.postgres import cluster

    with cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stockpile.db'}"
    from tests.postgres import fresh_database

    return fresh_database(request.getfixturevalue("postgres_server"))
