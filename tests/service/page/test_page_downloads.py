"""The result workbook from the page, whatever the request came from; what the first view waits for."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from service.spreadsheet import Limits, read_workbook
from tests.service.page.conftest import DESKTOP, SCREENSHOTS, axe_violations, load_example, solve, table_rows

pytestmark = pytest.mark.slow


def download_workbook(page: Page) -> bytes:
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the result workbook").click()
    assert download.value.suggested_filename == "allocation-result.xlsx"
    expect(page.locator("#solve-status")).to_have_text("The result workbook is downloaded.")
    return Path(download.value.path()).read_bytes()


def allocated_offers(book: bytes) -> list[Any]:
    sheet = openpyxl.load_workbook(io.BytesIO(book), read_only=True)["Allocation"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "supplier_id"
    return sorted(row[0] for row in rows[1:])


def test_an_edited_example_gets_its_result_workbook(page: Page) -> None:
    load_example(page)
    budget = page.get_by_label("Budget (total, any currency)")
    budget.fill("90000000")
    budget.dispatch_event("change")
    solve(page)
    assert axe_violations(page) == [], "Result view"
    book = download_workbook(page)
    # the workbook's inputs are the edited request, and its allocation is the table the page shows
    assert read_workbook(io.BytesIO(book), Limits()).budget == 90_000_000
    shown = sorted(row["Offer"] for row in table_rows(page, "Allocation"))
    assert allocated_offers(book) == shown and shown


def test_a_job_s_result_workbook_comes_from_the_job(page: Page, api: httpx.Client) -> None:
    load_example(page)
    page.get_by_text("Options", exact=True).click()
    page.get_by_label("Run as a background job").check()
    solve(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
    book = download_workbook(page)
    fetched = [r for r in requests if "/result" in r or "/v1/allocations" in r]
    assert len(fetched) == 1 and fetched[0].startswith("GET ") and "/v1/jobs/" in fetched[0], fetched
    job_id = fetched[0].split("/v1/jobs/")[1].split("/")[0]
    expected = sorted(a["supplier_id"] for a in api.get(f"/v1/jobs/{job_id}/result").json()["allocations"])
    assert allocated_offers(book) == expected and expected


def test_the_first_view_waits_for_no_api_call(
    browser: Browser, page_server: Any, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url.removeprefix(page_server.url)))
    page.goto(page_server.url + "/")
    page.wait_for_selector("body[data-ready=true]")
    listed = page.get_by_label("Example", exact=True).locator("option").all_text_contents()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"))
    context.close()
    api_calls = [u for u in urls if u != "/" and not u.startswith("/page/static/")]
    # the views offered and the examples come with the page: ready without the API's description or
    # its list of examples (the saved scenarios are listed after)
    assert set(api_calls) <= {"/v1/scenarios"}, api_calls
    assert listed == [f"{e['name']}: {e['title']}" for e in api.get("/v1/examples").json()]
