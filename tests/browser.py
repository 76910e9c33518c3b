"""A headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright.

Playwright never downloads a browser here: it launches ``CHROMIUM`` (``make chromium`` installs
it). Use the module-scoped ``browser`` fixture (registered for every test by ``tests/conftest.py``)
and ``open_page`` for a page that may reach only the server under test: any request to another
origin is aborted and recorded, so a test can assert that a page needs no internet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

CHROMIUM = os.environ.get("STOCKPILE_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium ({CHROMIUM}) is needed by the browser tests: make chromium (or apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class OfflinePage:
    """A page allowed to reach one origin; what it tried elsewhere, and the errors it raised."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def open_page(browser: Browser, origin: str) -> OfflinePage:
    """A new page in its own context that can reach ``origin`` (``http://127.0.0.1:PORT``) and nothing else."""
    context = browser.new_context()
    page = context.new_page()
    out = OfflinePage(page)
    allowed = urlsplit(origin)[:2]

    def route(r: Route) -> None:
        url = r.request.url
        if urlsplit(url)[:2] == allowed or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            out.blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page.on("pageerror", lambda exc: out.errors.append(str(exc)))
    page.on("requestfailed", lambda request: out.failed.append(request.url))
    page.on("console", lambda message: out.console_errors.append(message.text) if message.type == "error" else None)
    return out
