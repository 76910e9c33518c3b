"""Browser tests of the web page: Playwright for Python driving Debian's chromium against a live server.

No browser is downloaded: Playwright launches the system's ``chromium`` (``make chromium`` installs
it from Debian when missing). Every test saves a screenshot under ``tests/service/page/screenshots/``
(ignored by git), and ``axe_violations`` runs axe-core (vendored under ``tests/service/page/vendor``) in the page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.reliability.conftest import LiveServer, live_server

HERE = Path(__file__).parent
SCREENSHOTS = HERE / "screenshots"
AXE = HERE / "vendor" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
# Waits for the page, not timings: generous, as CI machines (and this one) may be busy.
expect.set_options(timeout=20_000)
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    path = os.environ.get("STOCKPILE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("The browser tests need Debian's chromium: `make chromium` (as root) or apt-get install chromium")
    return path


# Package-scoped, not session-scoped: Playwright's sync API runs an event loop in this thread
# while it is started, and tests elsewhere that call asyncio.run() need it stopped.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def page_server() -> Iterator[LiveServer]:
    """The real app with one solver worker and one Dask worker for analyses (started before the tests, so
    that no test waits for the cluster's start), on a free loopback port."""
    with live_server(workers=1, dask_workers=1) as server:
        server.wait_ready(workers=1)
        server.app.state.analyses.executor.client()
        yield server


@pytest.fixture
def api(page_server: LiveServer) -> Iterator[httpx.Client]:
    with page_server.client() as client:
        yield client


def open_page(browser: Browser, url: str, request: pytest.FixtureRequest, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture
def page(browser: Browser, page_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The page at 1280x800, ready (features detected, examples listed); screenshotted after the test."""
    yield from open_page(browser, page_server.url + "/", request, DESKTOP)


@pytest.fixture
def phone_page(browser: Browser, page_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The page at 390x844, a phone's size."""
    yield from open_page(browser, page_server.url + "/", request, PHONE)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on what the page shows now (hidden views are not checked)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def load_example(page: Page, name: str = "dla-2025") -> None:
    page.get_by_label("Example", exact=True).select_option(name)
    page.get_by_role("button", name="Load example").click()
    page.wait_for_function("document.getElementById('source').textContent.includes('Loaded the example')")


def solve(page: Page) -> None:
    page.get_by_role("button", name="Solve", exact=True).click()
    page.wait_for_function("document.getElementById('solve-status').textContent.startsWith('Solved')", timeout=60_000)


def table_rows(page: Page, name: str) -> list[dict[str, str]]:
    """The body rows of the table with this accessible name, as {column header: cell text}."""
    table = page.get_by_role("table", name=name, exact=True)
    headers = [h.strip() for h in table.locator("thead th").all_text_contents()]
    cells = table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))"
    )
    return [dict(zip(headers, row, strict=True)) for row in cells]


def number(text: str) -> float:
    """A number as the page prints it: `15,000 t` -> 15000.0."""
    return float(text.split()[0].replace(",", ""))
