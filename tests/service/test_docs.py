"""/docs and /redoc load everything from the service itself, and render in a browser without internet."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import service
from service.docs import ASSET_PATH, ASSETS
from tests.browser import OfflinePage, open_page
from tests.reliability.conftest import LiveServer, live_server

VENDOR = Path(service.__file__).parent / "static" / "vendor"
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def referenced_urls(html: str) -> list[str]:
    """Every URL the page's markup or inline script loads: src/href attributes and the spec's url."""
    return (
        re.findall(r'(?:src|href)="([^"]*)"', html)
        + re.findall(r"\burl: '([^']*)'", html)
        + re.findall(r'spec-url="([^"]*)"', html)
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_reference_only_the_service_itself(api, page):
    response = api.get(page)
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    urls = referenced_urls(response.text)
    assert urls, "no asset found in the page: the pattern no longer matches FastAPI's markup"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert api.get(url).status_code == 200, url


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_asset_is_served_with_its_media_type(api, name):
    response = api.get(f"{ASSET_PATH}/{name}")
    assert response.status_code == 200
    suffix = name[name.rindex(".") :]
    assert response.headers["content-type"].startswith(MEDIA_TYPES[suffix])
    assert response.content == (VENDOR / ASSETS[name][0]).read_bytes()


def test_only_the_listed_assets_are_served(api):
    for name in ("README.md", "..%2F..%2Fapp.py", "swagger-ui-bundle.js.map", "LICENSE"):
        assert api.get(f"{ASSET_PATH}/{name}").status_code == 404, name


def assert_nothing_left_the_machine(offline: OfflinePage) -> None:
    """No request went beyond the server, the page raised nothing, and what failed to load was refused by its CSP."""
    assert offline.blocked == [] and offline.errors == []
    refused = [m for m in offline.console_errors if "Content Security Policy" in m]
    assert all(any(url in m for m in refused) for url in offline.failed), (offline.failed, offline.console_errors)
    assert len(refused) == len(offline.console_errors), offline.console_errors


@pytest.fixture(scope="module")
def docs_server() -> Iterator[LiveServer]:
    with live_server(workers=1) as server:
        yield server


def test_swagger_ui_lists_every_operation_without_internet(browser, docs_server):
    spec = docs_server.client().get("/openapi.json").json()
    operations = {(m.upper(), p) for p, methods in spec["paths"].items() for m in methods}
    offline = open_page(browser, docs_server.url)
    page = offline.page
    page.goto(docs_server.url + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    shown = {
        (b.locator(".opblock-summary-method").inner_text().strip(), b.locator(".opblock-summary-path").inner_text())
        for b in page.locator(".opblock").all()
    }
    assert {(m, p.replace("\u200b", "")) for m, p in shown} == operations
    assert "allocate" in page.content().lower()
    assert_nothing_left_the_machine(offline)
    page.context.close()


def test_redoc_renders_the_description_without_internet(browser, docs_server):
    offline = open_page(browser, docs_server.url)
    page = offline.page
    page.goto(docs_server.url + "/redoc")
    heading = page.locator("h2", has_text="Allocate a purchase budget across minerals and supplier offers")
    heading.first.wait_for(timeout=30_000)
    assert page.locator("h1").first.inner_text().startswith("Stockpile")
    assert page.locator("[data-section-id^='operation/']").count() >= 8
    assert_nothing_left_the_machine(offline)
    page.context.close()
