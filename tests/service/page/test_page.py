"""The web page in a real browser: load the example, solve, read the table; workbooks; problems beside fields."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from service import examples
from tests.reliability.conftest import live_server, wait_until
from tests.reliability.stress_instances import hard_request
from tests.service.page.conftest import (
    DESKTOP,
    SCREENSHOTS,
    axe_violations,
    load_example,
    number,
    solve,
    table_rows,
)

pytestmark = pytest.mark.slow


def dla() -> dict[str, Any]:
    return examples.catalogue()["dla-2025"]["request"]


def test_the_page_and_its_files_are_served_and_only_those(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="/page/static/app.js"' in page.text
    assert api.get("/page/static/app.js").headers["content-type"].startswith("text/javascript")
    assert api.get("/page/static/vendor/chart.umd.min.js").status_code == 200
    assert api.get("/page/static/../page.py").status_code == 404
    assert api.get("/page/static/nothing.js").status_code == 404


def test_the_example_solved_in_the_page_is_the_json_apis_answer(page: Page, api: httpx.Client) -> None:
    load_example(page)
    expect(page.get_by_label("Budget (total, any currency)")).to_have_value(str(dla()["budget"]))
    solve(page)

    expected = api.post("/v1/allocations", json=dla()).json()
    rows = table_rows(page, "Allocation")
    assert len(rows) == len(expected["allocations"]) > 0
    by_offer = {row["Offer"]: row for row in rows}
    for line in expected["allocations"]:
        row = by_offer[line["supplier_id"]]
        assert (row["Supplier"], row["Mineral"], row["Country"]) == (line["supplier"], line["mineral"], line["country"])
        assert number(row["Quantity"]) == pytest.approx(line["quantity"], abs=1e-3)
        assert number(row["Spend"]) == pytest.approx(line["spend"], abs=1)
    assert expected["status"] == "optimal"
    expect(page.locator("#result-status")).to_have_text("Best possible allocation found (optimal).")
    # findings in words, errors first; premium offers marked in text, not by colour alone
    severities = page.locator("#findings .sev").all_text_contents()
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    premium = [a["supplier_id"] for a in expected["allocations"] if (a["premium_vs_market"] or 0) > 0.2]
    assert premium, "the example buys a premium offer (Rio Tinto's scandium)"
    for offer in premium:
        assert "premium" in by_offer[offer]["Over market price"]
    expect(page.locator("#coverage-chart")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#country-chart")).to_have_attribute("data-drawn", "true")
    coverage = table_rows(page, "Coverage per mineral")
    assert [row["Mineral"] for row in coverage] == [m["name"] for m in expected["minerals"]]


def test_every_view_passes_axe_and_the_tabs_work_from_the_keyboard(page: Page) -> None:
    load_example(page)
    assert axe_violations(page) == [], "Request view"
    solve(page)
    assert axe_violations(page) == [], "Result view"
    page.get_by_role("tab", name="Result").focus()
    for name in ("What-if", "Scenarios"):
        page.keyboard.press("ArrowRight")
        expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("tab", name=name)).to_be_focused()
        assert axe_violations(page) == [], f"{name} view"
    page.keyboard.press("Home")
    expect(page.get_by_role("tab", name="Request")).to_have_attribute("aria-selected", "true")


def test_views_the_server_does_not_offer_are_hidden_with_a_note(page: Page, api: httpx.Client) -> None:
    paths = set(api.get("/openapi.json").json()["paths"])
    page.get_by_role("tab", name="What-if").click()
    boxes = {
        "/v1/comparisons": "#compare-box",
        "/v1/frontiers": "#frontier-box",
        "/v1/policy-costs": "#costs-box",
        "/v1/stress-tests": "#stress-box",
    }
    for path, box in boxes.items():
        if path in paths:
            expect(page.locator(box)).to_be_visible()
        else:
            expect(page.locator(box)).to_be_hidden()
    if not set(boxes) <= paths:
        expect(page.locator("#whatif-note")).to_contain_text("does not offer")
    page.get_by_role("tab", name="Scenarios").click()
    if "/v1/scenarios/{name}" in paths:
        expect(page.locator("#scenarios-box")).to_be_visible()
    else:
        expect(page.locator("#scenarios-note")).to_have_text("This server does not keep scenarios yet.")


def test_the_template_workbook_uploaded_is_editable_and_solves(page: Page, api: httpx.Client, tmp_path: Path) -> None:
    workbook = tmp_path / "allocation.xlsx"
    workbook.write_bytes(api.get("/v1/templates/allocation.xlsx").content)
    page.get_by_label("Workbook (.xlsx, the template's layout)").set_input_files(workbook)
    expect(page.locator("#source")).to_have_text("Loaded the workbook allocation.xlsx.")
    read = api.post("/v1/requests/xlsx", files={"file": workbook.read_bytes()}).json()
    expect(page.get_by_role("table", name="6 minerals")).to_be_visible()
    expect(page.locator("#offers-table caption")).to_have_text(f"Offers 1 to {len(read['suppliers'])} of 24")
    solve(page)
    expected = api.post("/v1/allocations", json=read).json()
    rows = table_rows(page, "Allocation")
    assert sorted(r["Offer"] for r in rows) == sorted(a["supplier_id"] for a in expected["allocations"])
    # the result workbook of the uploaded file, while the editor still holds what the file says
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the result workbook").click()
    assert download.value.suggested_filename == "allocation-result.xlsx"
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"


def test_a_workbook_with_a_problem_lists_it_by_sheet_and_cell(page: Page, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    page.get_by_label("Workbook (.xlsx, the template's layout)").set_input_files(bad)
    expect(page.locator("#problems")).to_contain_text("The workbook has 1 problem(s)")
    expect(page.locator("#solve-status")).to_contain_text("The workbook could not be read")


def test_a_validation_problem_appears_beside_its_field(page: Page) -> None:
    load_example(page)
    capacity = page.get_by_label("Capacity, offer 4", exact=True)
    capacity.fill("-5")
    capacity.press("Tab")
    page.get_by_label("Budget (total, any currency)").fill("")
    page.get_by_role("button", name="Solve", exact=True).click()
    expect(page.locator("#problems")).to_contain_text("suppliers[3].capacity")
    expect(capacity).to_have_attribute("aria-invalid", "true")
    described = page.locator("#" + capacity.get_attribute("aria-describedby"))
    expect(described).to_have_text("must be > 0")
    capacity.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "validation-problem.png"))
    # the problem sits in the same table cell as its field
    assert capacity.evaluate(
        "(i, id) => i.closest('td').contains(document.getElementById(id))", described.get_attribute("id")
    )
    budget = page.get_by_label("Budget (total, any currency)")
    expect(budget).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#solve-status")).to_contain_text("Not solved")
    # fixed, the request solves and the marks go
    capacity.fill("8000")
    capacity.press("Tab")
    budget.fill("1000000000")
    budget.press("Tab")
    solve(page)
    page.get_by_role("tab", name="Request").click()
    expect(capacity).not_to_have_attribute("aria-invalid", "true")


def many_offers(n: int) -> dict[str, Any]:
    minerals = [{"id": f"m{k}", "target": 1000, "market_price": 100} for k in range(20)]
    countries = ["AU", "CA", "US", "BR", "CL", "FI", "JP", "KR", "DE", "FR"]
    suppliers = [
        {
            "id": f"o{i:04d}",
            "mineral": f"m{i % 20}",
            "country": countries[i % len(countries)],
            "capacity": 50 + i % 70,
            "unit_price": 80 + (i * 7) % 50,
        }
        for i in range(n)
    ]
    return {"budget": 1_000_000, "minerals": minerals, "suppliers": suppliers}


def test_two_thousand_offers_load_page_and_show_a_problem_on_a_later_page(page: Page, tmp_path: Path) -> None:
    request = many_offers(2000)
    request["suppliers"][1499]["country"] = "XX"  # page 30 at 50 offers a page
    path = tmp_path / "big.json"
    path.write_text(json.dumps(request))
    page.get_by_label("Request (.json)").set_input_files(path)
    caption = page.locator("#offers-table caption")
    expect(caption).to_have_text("Offers 1 to 50 of 2000")
    assert page.locator("#offers-table tbody tr").count() == 50
    page.get_by_role("button", name="Next page of offers", exact=True).click()
    expect(caption).to_have_text("Offers 51 to 100 of 2000")
    expect(page.get_by_label("Id, offer 51", exact=True)).to_have_value("o0050")
    expect(page.get_by_role("button", name="Next page of offers", exact=True)).to_be_focused()

    page.get_by_role("button", name="Solve", exact=True).click()
    expect(page.locator("#problems")).to_contain_text("suppliers[1499].country")
    # (a request this large goes as a job when the server runs jobs: the path is then under input.)
    page.get_by_role("button", name=re.compile(r"^Show (input\.)?suppliers\[1499\]\.country$")).click()
    expect(caption).to_have_text("Offers 1451 to 1500 of 2000")
    country = page.get_by_label("Country, offer 1500", exact=True)
    expect(country).to_be_focused()
    expect(country).to_have_attribute("aria-invalid", "true")


def test_the_phone_layout_keeps_the_page_within_the_screen(phone_page: Page) -> None:
    load_example(phone_page)
    solve(phone_page)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "wide tables scroll inside their own box, not the page"
    allocation = phone_page.get_by_role("table", name="Allocation")
    expect(allocation).to_be_visible()
    expect(phone_page.locator("#coverage-chart")).to_have_attribute("data-drawn", "true")
    assert axe_violations(phone_page) == [], "the Result view on a phone"
    allocation.scroll_into_view_if_needed()
    phone_page.screenshot(path=str(SCREENSHOTS / "phone-allocation.png"))


def test_behind_api_keys_the_page_asks_once_and_keeps_the_key_for_the_tab(
    browser: Browser, request: pytest.FixtureRequest
) -> None:
    with live_server(workers=1, api_keys="page-test-key") as server:
        server.wait_ready(workers=1)
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto(server.url + "/")
        dialog = page.get_by_role("dialog", name="API key")
        expect(dialog).to_be_visible()
        page.locator("#key-input").fill("page-test-key")
        page.get_by_role("button", name="Use this key").click()
        page.wait_for_selector("body[data-ready=true]")
        load_example(page)
        solve(page)
        assert page.evaluate("sessionStorage.getItem('stockpile.apiKey')") == "page-test-key"
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        expect(dialog).to_be_hidden()
        context.close()
        # a request without the key is refused: the page really sent it
        assert httpx.get(server.url + "/v1/examples").status_code == 401
        assert httpx.get(server.url + "/").status_code == 200


def solves_in_progress(api: httpx.Client) -> float:
    line = next(x for x in api.get("/metrics").text.splitlines() if x.startswith("stockpile_solves_in_progress "))
    return float(line.split()[1])


def test_cancel_stops_a_long_solve_and_frees_the_worker(page: Page, api: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "hard.json"
    path.write_text(json.dumps(hard_request(30.0)))
    page.get_by_label("Request (.json)").set_input_files(path)
    page.get_by_role("button", name="Solve", exact=True).click()
    wait_until(lambda: solves_in_progress(api) == 1, timeout=30)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#solve-status")).to_have_text("Cancelled: nothing was solved.")
    expect(page.get_by_role("button", name="Solve", exact=True)).to_be_enabled()
    wait_until(lambda: solves_in_progress(api) == 0, timeout=15)  # the server stopped it: the client hung up
    wait_until(lambda: api.get("/readyz").status_code == 200, timeout=60)


def test_the_page_fetches_nothing_but_from_its_own_server(browser: Browser, page_server: Any) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(page_server.url + "/")
    page.wait_for_selector("body[data-ready=true]")
    load_example(page)
    solve(page)
    expect(page.locator("#coverage-chart")).to_have_attribute("data-drawn", "true")
    context.close()
    assert any(u.endswith("/vendor/chart.umd.min.js") for u in urls)
    assert [u for u in urls if not u.startswith(page_server.url + "/")] == []


@pytest.mark.parametrize(
    ("path", "cell"),
    [
        ("suppliers[3].capacity", "suppliers[3].capacity"),
        ("suppliers[3].price_tiers[1].up_to", "suppliers[3].price_tiers"),
        ("suppliers[3]", "suppliers[3].unit_price"),  # the offer as a whole: give a price or tiers
        ("minerals[0].min_quantity", "minerals[0].min_quantity"),
        ("policy.tariffs.CN", "policy.tariffs.CN"),
        ("policy.country_caps[0].minerals[1]", "policy.country_caps[0].minerals"),
        ("policy.excluded_countries[2]", "policy.excluded_countries"),
        ("options.time_limit_s", "options.time_limit_s"),
        ("request.suppliers[7].country", "suppliers[7].country"),  # inside a comparison's body
        ("input.budget", "budget"),  # inside a job's body
        ("(request)", None),
        ("variants[1].changes[0].factor", None),
    ],
)
def test_each_problem_path_maps_to_the_editor_cell_that_shows_it(page: Page, path: str, cell: str | None) -> None:
    mapped = page.evaluate("async (p) => (await import('/page/static/editor.js')).cellFor(p)", path)
    assert mapped == cell
