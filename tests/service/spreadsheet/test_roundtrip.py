"""Template -> solve -> result workbook gives the JSON endpoint's figures; CSV in and out; LibreOffice opens it."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from models import AllocationRequest
from service.cli import main
from service.spreadsheet import Limits, read_workbook
from service.spreadsheet import layout as L
from service.spreadsheet.csvio import wants_csv

from .conftest import load

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def same(a: Any, b: Any, rel: float = 1e-15) -> bool:
    """Equal, numbers to 16 significant digits: openpyxl writes floats with %.16g (Excel shows 15)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)
    return a == b


def _rows(ws) -> list[dict[str, Any]]:
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


@pytest.fixture(scope="module")
def solved(client, template, dla) -> dict[str, Any]:
    """The dla-2025 example solved from JSON and from the template workbook."""
    json_result = client.post("/v1/allocations", json=dla)
    assert json_result.status_code == 200
    book = client.post("/v1/allocations/xlsx", files={"file": ("allocation.xlsx", template, XLSX)})
    assert book.status_code == 200, book.text
    assert book.headers["content-type"] == XLSX
    return {"json": json_result.json(), "book": book.content, "status": book.headers["x-stockpile-status"]}


def test_allocation_sheet_has_every_figure_of_the_json(solved):
    expected = solved["json"]["allocations"]
    wb = load(solved["book"])
    assert solved["status"] == solved["json"]["status"] == "optimal"
    rows = _rows(wb["Allocation"])
    assert list(rows[0]) == [name for name, _ in L.ALLOCATION_COLUMNS]
    assert same(rows, expected)  # the same numbers, written as numbers, not text
    assert len(rows) == len(expected) > 10


def test_mineral_summary_and_diagnostics_match_the_json(solved):
    result = solved["json"]
    wb = load(solved["book"])
    summary = _rows(wb["Mineral summary"])
    for row, mineral in zip(summary, result["minerals"], strict=True):
        shares = {k.removeprefix("share_"): v for k, v in row.items() if k.startswith("share_") and v is not None}
        assert same(shares, mineral["share_by_country"])
        assert same(
            {k: v for k, v in row.items() if not k.startswith("share_")},
            {k: v for k, v in mineral.items() if k != "share_by_country"},
        )
    figures = {}
    findings_at = None
    for k, (name, value, *_rest) in enumerate(wb["Diagnostics"].iter_rows(values_only=True)):
        if name == "code":
            findings_at = k
            break
        if name not in (None, "figure"):
            figures[name] = value
    for name in (
        "status",
        "objective",
        "objective_value",
        "coverage_score",
        "total_spend",
        "budget",
        "budget_remaining",
        "mip_gap",
        "best_bound",
    ):
        assert same(figures[name], result[name]), name
    assert isinstance(figures["solve_seconds"], float)
    assert {k.removeprefix("model."): v for k, v in figures.items() if k.startswith("model.")} == result["model"]
    rows = list(wb["Diagnostics"].iter_rows(values_only=True))[findings_at:]
    findings = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert same(findings, result["diagnostics"]) and findings  # dla-2025 reports the indium shortfall


def test_inputs_are_carried_over_unchanged(solved, template):
    before, after = load(template), load(solved["book"])
    assert after.sheetnames == [
        "Settings",
        "Minerals",
        "Suppliers",
        "Policy",
        "Scenarios",
        "Lists",
        "Allocation",
        "Mineral summary",
        "Diagnostics",
        "Charts",
        "Scenario summary",  # the template's scenarios, compared
        "Scenario allocations",
        "Scenario minerals",
    ]
    for title in ("Settings", "Minerals", "Suppliers", "Policy", "Scenarios", "Lists"):
        assert list(after[title].values) == list(before[title].values), title
    assert after["Lists"].sheet_state == "hidden"
    assert after.active.title == "Allocation"


def test_result_sheets_are_formatted(solved):
    wb = load(solved["book"])
    ws = wb["Allocation"]
    assert ws.freeze_panes == "A2" and all(c.font.bold for c in ws[1])
    header = [c.value for c in ws[1]]
    spend = ws.cell(row=2, column=header.index("spend") + 1)
    assert isinstance(spend.value, float) and spend.number_format == L.MONEY
    assert ws.column_dimensions["B"].width > ws.column_dimensions["D"].width  # sized to their contents
    coverage = wb["Mineral summary"].cell(row=2, column=6)
    assert coverage.number_format == L.SHARE and isinstance(coverage.value, float)


def test_charts_are_native_excel_charts(solved):
    archive = zipfile.ZipFile(io.BytesIO(solved["book"]))
    charts = sorted(n for n in archive.namelist() if n.startswith("xl/charts/chart"))
    assert len(charts) == 6  # three of the result, three of the comparison of the template's scenarios
    ns = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
    trees = [ElementTree.fromstring(archive.read(n)) for n in charts]
    titles = ["".join(tree.find(f"{ns}chart/{ns}title").itertext()) for tree in trees]
    assert titles[:3] == ["Spend by mineral", "Spend by country", "Coverage per mineral against target"]
    trees = trees[:3]
    assert [len(list(tree.iter(f"{ns}barChart"))) for tree in trees] == [1, 1, 1]
    assert len(list(trees[2].iter(f"{ns}lineChart"))) == 1  # the target line over the coverage bars
    refs = [f.text for tree in trees for f in tree.iter(f"{ns}f")]
    assert "'Charts'!$B$2:$B$7" in refs or "Charts!$B$2:$B$7" in refs  # six minerals' spend
    drawings = [n for n in archive.namelist() if n.startswith("xl/drawings/drawing")]
    assert drawings


def test_a_result_workbook_can_be_uploaded_again(client, solved):
    again = client.post("/v1/allocations/xlsx", files={"file": ("result.xlsx", solved["book"], XLSX)})
    assert again.status_code == 200
    wb = load(again.content)
    assert wb.sheetnames.count("Allocation") == 1 and "Allocation1" not in wb.sheetnames
    assert wb.sheetnames.count("Scenario summary") == 1 and "Scenario summary1" not in wb.sheetnames
    assert same(_rows(wb["Allocation"]), solved["json"]["allocations"])


def test_a_json_request_gets_its_result_workbook_by_accept(client, solved, dla):
    response = client.post("/v1/allocations", json=dla, headers={"Accept": XLSX})
    assert response.status_code == 200 and response.headers["content-type"] == XLSX
    assert response.headers["x-stockpile-status"] == "optimal"
    assert "allocation-result.xlsx" in response.headers["content-disposition"]
    wb = load(response.content)
    assert same(_rows(wb["Allocation"]), solved["json"]["allocations"])
    # its input sheets are the request itself: read back, they are what was sent
    read = read_workbook(io.BytesIO(response.content), Limits())
    assert read == AllocationRequest.model_validate(dla)
    # JSON stays the default, and CSV is still chosen by Accept
    assert client.post("/v1/allocations", json=dla, headers={"Accept": "*/*"}).headers["content-type"] == (
        "application/json"
    )
    assert client.post("/v1/allocations", json=dla, headers={"Accept": "text/csv"}).text.startswith("supplier_id")


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def test_csv_upload_gives_the_same_result_as_json(client, solved, dla):
    suppliers = []
    for s in dla["suppliers"]:
        row = dict(s)
        for k, tier in enumerate(s.get("price_tiers") or [], start=1):
            row[f"tier{k}_up_to"], row[f"tier{k}_unit_price"] = tier["up_to"], tier["unit_price"]
        suppliers.append(row)
    policy = [{"rule": "tariff", "countries": c, "value": v} for c, v in dla["policy"]["tariffs"].items()]
    policy += [{"rule": "country_cap", "countries": "CN", "value": 0.25}]
    response = client.post(
        "/v1/allocations/csv",
        files={
            "minerals": ("minerals.csv", _csv(dla["minerals"], [c.header for c in L.MINERAL_COLUMNS])),
            "suppliers": ("suppliers.csv", _csv(suppliers, [c.header for c in L.SUPPLIER_COLUMNS])),
            "policy": ("policy.csv", _csv(policy, ["rule", "countries", "value", "minerals"])),
        },
        data={"budget": str(dla["budget"]), "objective": "max_coverage", "time_limit_s": "30", "mip_gap": "0.0001"},
    )
    assert response.status_code == 200, response.text
    got, expected = dict(response.json()), dict(solved["json"])
    got.pop("solve_seconds"), expected.pop("solve_seconds")
    assert got == expected


def _csv_problems(client, minerals: bytes, suppliers: bytes, budget: str = "1000") -> list[dict[str, str]]:
    """The problems of a CSV upload that must be refused."""
    response = client.post(
        "/v1/allocations/csv",
        files={"minerals": ("m.csv", minerals), "suppliers": ("s.csv", suppliers)},
        data={"budget": budget},
    )
    assert response.status_code == 422, response.text
    return response.json()["problems"]


def test_csv_upload_problems_name_file_and_cell(client):
    problems = _csv_problems(
        client, b"id,target\ncobalt,20\n", b"id,mineral,country,capacity,unit_price\na,cobalt,AU,-1,5\n", "lots"
    )
    got = {p["path"]: p["message"] for p in problems}
    assert got == {"form field budget": "budget must be a number", "suppliers.csv!D2": "capacity must be a number > 0"}
    missing = client.post("/v1/allocations/csv", files={"minerals": ("m.csv", b"id,target\n")}, data={"budget": "1"})
    assert missing.status_code == 422 and missing.json()["problems"][0]["path"] == "suppliers"


def test_csv_policy_values_read_as_the_numbers_they_spell(client):
    response = client.post(
        "/v1/allocations/csv",
        files={
            "minerals": ("m.csv", b"id,target\ncobalt,20\n"),
            "suppliers": ("s.csv", b"id,mineral,country,capacity,unit_price\na,cobalt,AU,15,5\nb,cobalt,CA,15,6\n"),
            "policy": ("p.csv", b"rule,countries,value\nmax_suppliers,,2\nmax_supplier_share,,0.75\n"),
        },
        data={"budget": "1000"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["minerals"][0]["suppliers_used"] == 2


def test_csv_with_an_unclosed_quote_is_invalid_csv_not_missing_values(client):
    suppliers = b'id,mineral,country,capacity,unit_price\na,"cobalt,AU,15,5\nb,cobalt,AU,15,5\n'
    (problem,) = _csv_problems(client, b"id,target\ncobalt,20\n", suppliers)
    assert problem["path"] == "suppliers.csv"
    assert problem["message"].startswith("suppliers.csv is not valid CSV (line 3: unexpected end of data")


def test_csv_without_minerals_says_so_once(client):
    problems = _csv_problems(client, b"", b"id,mineral,country,capacity,unit_price\na,cobalt,AU,15,5\nb,tin,AU,15,5\n")
    messages = [p["message"] for p in problems]
    assert not [m for m in messages if "unknown mineral" in m], messages
    assert any("minerals" in m for m in messages)


def test_accept_text_csv_returns_the_allocation_table(client, solved, dla):
    response = client.post("/v1/allocations", json=dla, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    lines = response.text.splitlines()
    assert lines[0] == ",".join(name for name, _ in L.ALLOCATION_COLUMNS)
    assert sum(1 for line in lines if line.startswith("supplier_id")) == 1
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = solved["json"]["allocations"]
    assert [r["supplier_id"] for r in rows] == [a["supplier_id"] for a in expected]
    for row, line in zip(rows, expected, strict=True):
        for name in ("quantity", "goods_cost", "tariff_cost", "fixed_cost", "spend", "average_unit_price"):
            assert float(row[name]) == line[name]
    assert client.post("/v1/allocations", json=dla).headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("accept", "csv_wanted"),
    [
        ("text/csv", True),
        ("application/json;q=0.9, text/csv", True),
        ("text/csv;q=0.5, application/json", False),
        ("*/*", False),
        ("text/*", True),
        ("application/json", False),
        ("text/csv;q=0", False),
        (None, False),
    ],
)
def test_content_negotiation(accept, csv_wanted):
    assert wants_csv(accept) is csv_wanted


def test_solve_command_reads_a_workbook_and_writes_the_result(tmp_path: Path, template, solved, capsys):
    book, out = tmp_path / "book.xlsx", tmp_path / "result.xlsx"
    book.write_bytes(template)
    assert main(["solve", str(book), "-o", str(out)]) == 0
    assert "status: optimal" in capsys.readouterr().out
    assert same(_rows(load(out.read_bytes())["Allocation"]), solved["json"]["allocations"])
    table = tmp_path / "result.csv"
    assert main(["solve", str(book), "-o", str(table)]) == 0
    assert [r["supplier_id"] for r in csv.DictReader(table.open())] == [
        a["supplier_id"] for a in solved["json"]["allocations"]
    ]
    wb = load(template)
    wb["Suppliers"]["E7"] = -5
    wb.save(book)
    assert main(["solve", str(book), "-o", str(out)]) == 2
    assert "Suppliers!E7: capacity must be a number > 0" in capsys.readouterr().err


def _soffice(tmp_path: Path, books: list[Path], target: str, outdir: Path) -> subprocess.CompletedProcess[str]:
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is required: `make test` installs libreoffice-calc (apt) when it is missing"
    return subprocess.run(  # noqa: PLW1510 - the caller reads the return code and the output
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--norestore",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            *map(str, books),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
    )


INFEASIBLE = {
    "budget": 1_000_000,
    "objective": "min_cost",
    "minerals": [{"id": "cobalt", "target": 1000}],
    "suppliers": [{"id": "a", "mineral": "cobalt", "country": "AU", "capacity": 15, "unit_price": 35000}],
}


@pytest.fixture(scope="module")
def infeasible_book(client) -> bytes:
    from models import AllocationRequest
    from service.spreadsheet import template_bytes

    book = template_bytes(AllocationRequest.model_validate(INFEASIBLE))
    response = client.post("/v1/allocations/xlsx", files={"file": ("infeasible.xlsx", book, XLSX)})
    assert response.status_code == 200 and response.headers["x-stockpile-status"] == "infeasible"
    return response.content


def test_an_infeasible_request_gives_a_workbook_that_explains_it(infeasible_book):
    wb = load(infeasible_book)
    assert list(wb["Allocation"].values) == [tuple(name for name, _ in L.ALLOCATION_COLUMNS)]
    codes = [row[0] for row in wb["Diagnostics"].iter_rows(values_only=True)]
    assert "floor_unmet" in codes and wb["Diagnostics"]["B2"].value == "infeasible"


def test_libreoffice_opens_the_result_workbooks(solved, infeasible_book, dla, tmp_path: Path):
    books = [tmp_path / "result.xlsx", tmp_path / "infeasible.xlsx"]
    books[0].write_bytes(solved["book"])
    books[1].write_bytes(infeasible_book)
    done = _soffice(tmp_path, books, "pdf", tmp_path)
    for book in books:
        pdf = book.with_suffix(".pdf")
        assert done.returncode == 0 and pdf.exists(), done.stdout + done.stderr
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF") and len(data) > 20_000
    # Saved again by LibreOffice: every sheet, the figures and the charts came through its reader
    # (three of the result, three of the comparison of the template's scenarios).
    (tmp_path / "lo").mkdir()
    done = _soffice(tmp_path, books, "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    assert done.returncode == 0, done.stdout + done.stderr
    for book, original, count in zip(books, (solved["book"], infeasible_book), (6, 3), strict=True):
        resaved = (tmp_path / "lo" / book.name).read_bytes()
        wb = load(resaved)
        assert [t for t in wb.sheetnames if t != "Lists"] == [t for t in load(original).sheetnames if t != "Lists"]
        charts = [n for n in zipfile.ZipFile(io.BytesIO(resaved)).namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == count
    wb = load((tmp_path / "lo" / "result.xlsx").read_bytes())
    assert same(_rows(wb["Allocation"]), solved["json"]["allocations"], rel=1e-13)  # LibreOffice keeps 15 digits
    # ... and it reads back as the request it came from: LibreOffice (as Excel) keeps text in a
    # shared-strings table, which openpyxl's own files never use.
    resaved = (tmp_path / "lo" / "result.xlsx").read_bytes()
    assert "xl/sharedStrings.xml" in zipfile.ZipFile(io.BytesIO(resaved)).namelist()
    again = read_workbook(io.BytesIO(resaved), Limits())
    assert again == AllocationRequest.model_validate(dla)


def test_csv_upload_with_semicolons_and_csv_back(client):
    response = client.post(
        "/v1/allocations/csv",
        files={
            "minerals": ("m.csv", "\ufeffid;name;target\ncobalt;Cobalt, refined;20\n".encode()),
            "suppliers": (
                "s.csv",
                b"id;mineral;country;capacity;unit_price\na;cobalt;AU;15;35000\nb;cobalt;CN;50;29000\n",
            ),
            "policy": ("p.csv", b"rule;countries;value\ntariff;CN;1\n"),
        },
        data={"budget": "1000000"},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["supplier_id"]: float(r["quantity"]) for r in rows} == pytest.approx({"a": 15.0, "b": 5.0}, rel=1e-6)
