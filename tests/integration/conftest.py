"""Integration tests run against a running Stockpile given by STOCKPILE_URL.

    make test-container                                   # builds the image, runs it, runs these
    STOCKPILE_URL=http://127.0.0.1:8000 STOCKPILE_IMAGE=stockpile:latest \\
        .venv/bin/python -m pytest tests/integration      # against an instance you started

``make test`` does not collect this folder (``--ignore`` in pyproject.toml);
named explicitly without STOCKPILE_URL it stops with a usage error rather
than skipping. The SIGTERM test starts its own container from STOCKPILE_IMAGE
and fails (it does not skip) when that is not set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from models import AllocationRequest
from service.client import StockpileClient

URL = os.environ.get("STOCKPILE_URL", "").rstrip("/")
API_KEY = os.environ.get("STOCKPILE_TEST_API_KEY") or None


def pytest_configure(config: pytest.Config) -> None:
    if not URL:
        raise pytest.UsageError(
            "tests/integration runs against a running Stockpile: set STOCKPILE_URL (e.g. "
            "http://127.0.0.1:8000), or run `make test-container`, which starts the image and sets it."
        )


def pytest_report_header(config: pytest.Config) -> str:
    return f"stockpile under test: {URL} (image for the SIGTERM test: {os.environ.get('STOCKPILE_IMAGE', 'unset')})"


@pytest.fixture(scope="session")
def client() -> Iterator[StockpileClient]:
    with StockpileClient(URL, timeout=120, api_key=API_KEY) as c:
        c.wait_until_ready(timeout=120)
        yield c


@pytest.fixture(scope="session")
def dla(client: StockpileClient) -> AllocationRequest:
    return client.example("dla-2025")
