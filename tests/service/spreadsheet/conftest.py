"""Fixtures for the spreadsheet tests: an app with an in-process solver, workbooks to edit."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from service import examples
from service.app import create_app
from service.settings import Settings
from service.solving import InProcessGateway
from service.spreadsheet import template_bytes


class NoSolves:
    """A gateway for apps that must reject a request before any solve."""

    async def solve(self, request: Any) -> Any:
        raise AssertionError("this request should have been rejected before solving")

    def ready(self) -> bool:
        return True

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def drain(self, timeout: float) -> bool:
        return True


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    settings = Settings()
    with TestClient(create_app(settings, InProcessGateway(settings))) as c:
        yield c


def capped_client(**caps: Any) -> TestClient:
    """An app with small caps whose gateway refuses to solve (lifespan not started)."""
    return TestClient(create_app(Settings(**caps), NoSolves()))


@pytest.fixture(scope="session")
def dla() -> dict[str, Any]:
    return examples.catalogue()["dla-2025"]["request"]


@pytest.fixture(scope="session")
def template() -> bytes:
    return template_bytes()


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def save(wb: openpyxl.Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


SMALL: dict[str, Any] = {
    "budget": 1_000_000,
    "minerals": [{"id": "cobalt", "name": "Cobalt", "target": 20, "market_price": 30000}],
    "suppliers": [
        {"id": "a", "name": "Aus", "mineral": "cobalt", "country": "AU", "capacity": 15, "unit_price": 35000},
        {"id": "b", "name": "Chn", "mineral": "cobalt", "country": "CN", "capacity": 50, "unit_price": 29000},
    ],
    "policy": {"tariffs": {"CN": 1.0}},
}
