"""Uploaded workbooks with mistakes: every problem at once, by sheet and cell, never a 500."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest

from service.errors import InvalidRequest
from service.spreadsheet import Limits, read_workbook

from .conftest import load, save

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def problems_of(data: bytes) -> dict[str, tuple[str, str]]:
    with pytest.raises(InvalidRequest) as caught:
        read_workbook(io.BytesIO(data), Limits())
    return {p.path: (p.message, p.code) for p in caught.value.problems}


def test_all_problems_at_once_over_http_with_cells(client, template):
    wb = load(template)
    ws = wb["Suppliers"]
    ws["E7"] = -5  # capacity <= 0
    ws["E8"] = dt.datetime(2025, 1, 3)  # a date where a number belongs
    ws["D10"] = "XX"  # not a country
    ws["A11"] = "co-ca"  # duplicate id
    ws["C12"] = "unobtainium"  # unknown mineral
    wb["Minerals"]["D3"] = "lots"  # text where a number belongs
    wb["Settings"]["B2"] = True  # a boolean budget
    wb["Policy"]["A3"] = "tarif"  # unknown rule
    response = client.post("/v1/allocations/xlsx", files={"file": ("book.xlsx", save(wb), XLSX)})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    got = {p["path"]: p["message"] for p in body["problems"]}
    assert got["Suppliers!E7"] == "capacity must be a number > 0"
    assert got["Suppliers!E8"].startswith("capacity must be a number, not a date (2025-01-03)")
    assert got["Suppliers!D10"].startswith("country: 'XX' is not an ISO 3166 alpha-2 country code")
    assert got["Suppliers!A11"] == "id: duplicate supplier id 'co-ca'"
    assert got["Suppliers!C12"].startswith("mineral: unknown mineral 'unobtainium'")
    assert got["Minerals!D3"] == "target must be a number"
    assert got["Settings!B2"] == "budget must be a number, not TRUE"
    assert got["Policy!A3"].startswith("rule must be one of tariff, exclude")
    assert len(got) == 8, got


def test_missing_sheets_are_named_without_follow_on_noise(template):
    wb = load(template)
    del wb["Minerals"]
    del wb["Settings"]
    got = problems_of(save(wb))
    assert got == {
        "Minerals": ("the sheet 'Minerals' is missing; download the template to see the layout", "missing_sheet"),
        "Settings": ("the sheet 'Settings' is missing; download the template to see the layout", "missing_sheet"),
    }


def test_missing_column_is_reported_once(template):
    wb = load(template)
    wb["Suppliers"].delete_cols(5)  # capacity
    got = problems_of(save(wb))
    assert got == {"Suppliers": ("missing column 'capacity' (expected in the header row 1)", "missing_column")}


def test_empty_rows_in_the_middle_are_skipped_and_later_rows_still_read(template, dla):
    wb = load(template)
    ws = wb["Suppliers"]
    ws.insert_rows(5, amount=3)  # rows 5-7 blank; the supplier formerly on row 5 is now on row 8
    data = save(wb)
    request = read_workbook(io.BytesIO(data), Limits())
    assert [s.id for s in request.suppliers] == [s["id"] for s in dla["suppliers"]]
    ws["E8"] = 0
    assert problems_of(save(wb)) == {"Suppliers!E8": ("capacity must be a number > 0", "greater_than")}


def test_merged_cells_are_a_problem(template):
    wb = load(template)
    wb["Suppliers"].merge_cells("B3:B4")
    got = problems_of(save(wb))
    assert got["Suppliers!B3:B4"][1] == "merged_cells"


def _with_formula(
    data: bytes, sheet_part: str, ref: str, formula: str, cached: str | None, kind: str | None = None
) -> bytes:
    """Rewrite one cell of a saved workbook as a formula, with or without a saved value (of type ``kind``)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == sheet_part:
                text = content.decode()
                typed = "" if kind is None else f' t="{kind}"'
                saved = "" if cached is None else f"<v>{cached}</v>"
                cell = f'<c r="{ref}"{typed}><f>{formula}</f>{saved}</c>'
                text, n = re.subn(rf'<c r="{ref}"[^>]*?(/>|>.*?</c>)', cell, text, count=1)
                assert n == 1
                content = text.encode()
            dst.writestr(info, content)
    return out.getvalue()


def test_formulas_use_their_saved_value_or_are_a_clear_problem(template):
    part = "xl/worksheets/sheet3.xml"  # Suppliers
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(template)).read(part)
    cached = _with_formula(template, part, "E3", "2500*2", "5000")
    request = read_workbook(io.BytesIO(cached), Limits())
    assert request.suppliers[1].capacity == 5000
    uncached = _with_formula(template, part, "E3", "2500*2", None)
    message, code = problems_of(uncached)["Suppliers!E3"]
    assert code == "formula_without_value" and "=2500*2" in message and "no saved value" in message


def test_a_formula_whose_saved_value_is_empty_text_is_a_blank_cell(template):
    # =IF(..., "", ...) as Excel and LibreOffice save it: a text formula with an empty saved value.
    part = "xl/worksheets/sheet3.xml"  # Suppliers; B2 is co-ca's name (optional)
    assert read_workbook(io.BytesIO(template), Limits()).suppliers[0].name is not None
    data = _with_formula(template, part, "B2", 'IF(TRUE,"",100)', "", kind="str")
    assert read_workbook(io.BytesIO(data), Limits()).suppliers[0].name is None


def test_a_row_blank_but_for_spaces_is_a_blank_row(template, dla):
    wb = load(template)
    wb["Suppliers"]["A30"] = " "
    assert [s.id for s in read_workbook(io.BytesIO(save(wb)), Limits()).suppliers] == [
        s["id"] for s in dla["suppliers"]
    ]


def test_tier_columns_past_the_tenth_are_a_problem_not_ignored(template):
    wb = load(template)
    ws = wb["Suppliers"]
    col = ws.max_column + 1
    ws.cell(1, col, "tier11_up_to")
    ws.cell(1, col + 1, "tier11_unit_price")
    got = problems_of(save(wb))
    assert set(got) == {
        f"Suppliers!{ws.cell(1, col).column_letter}1",
        f"Suppliers!{ws.cell(1, col + 1).column_letter}1",
    }
    assert all(code == "too_many_tiers" and "at most 10 price tiers" in m for m, code in got.values())


def test_dates_and_wrong_types(template):
    wb = load(template)
    wb["Minerals"]["E2"] = dt.date(2024, 5, 1)  # weight as a date
    wb["Suppliers"]["A2"] = 1234  # a numeric id is read as text: fine
    wb["Suppliers"]["F6"] = "cheap"  # unit_price as text
    wb["Settings"]["B4"] = "soon"  # time_limit_s as text
    got = problems_of(save(wb))
    assert got["Minerals!E2"] == (
        "weight must be a number, not a date (2024-05-01); format the cell as a number or as text",
        "date_not_allowed",
    )
    assert got["Suppliers!F6"] == ("unit_price must be a number", "float_parsing")
    assert got["Settings!B4"] == ("time_limit_s must be a number", "float_parsing")
    assert len(got) == 3


def test_extra_sheets_and_columns_are_ignored(template, dla):
    wb = load(template)
    wb.create_sheet("My notes")["A1"] = "=SUM(1,2)"
    wb["Suppliers"]["Z1"] = "comment"
    wb["Suppliers"]["Z2"] = "call them on Monday"
    request = read_workbook(io.BytesIO(save(wb)), Limits())
    assert len(request.suppliers) == len(dla["suppliers"])


def test_policy_rules_are_read(template):
    wb = load(template)
    ws = wb["Policy"]
    for row, values in enumerate(
        [("exclude", "RU, BY"), ("country_cap", "CN HK", 0.3, "cobalt;indium"), ("max_suppliers", None, 3)],
        start=ws.max_row + 1,
    ):
        for col, value in enumerate(values, start=1):
            ws.cell(row=row, column=col, value=value)
    policy = read_workbook(io.BytesIO(save(wb)), Limits()).policy
    assert policy.tariffs == {"CN": 1.0, "ID": 0.1}
    assert policy.excluded_countries == ["RU", "BY"]
    assert policy.country_caps[-1].countries == ["CN", "HK"] and policy.country_caps[-1].minerals == [
        "cobalt",
        "indium",
    ]
    assert policy.country_caps[-1].max_share == 0.3 and policy.max_suppliers == 3


def test_policy_problems_point_at_cells(template):
    wb = load(template)
    ws = wb["Policy"]
    ws["A7"], ws["B7"], ws["C7"] = "tariff", "CN", 0.5  # a second tariff for CN
    ws["A8"], ws["B8"], ws["C8"] = "country_cap", "CN", 1.5  # share above 1
    ws["A9"], ws["B9"] = "tariff", "QQ"  # unknown country, no rate
    got = problems_of(save(wb))
    assert got["Policy!B7"][1] == "duplicate_tariff"
    assert got["Policy!C8"] == ("value must be a number <= 1", "less_than_equal")
    assert got["Policy!C9"] == ("value is required for the rule tariff", "missing")
    assert got["Policy!B9"][1] == "country_code"


def test_not_a_workbook_is_a_422_not_a_500(client):
    for data in (b"hello", b"PK\x05\x06" + b"\0" * 18):
        response = client.post("/v1/allocations/xlsx", files={"file": ("book.xlsx", data, XLSX)})
        assert response.status_code == 422, response.text
        assert response.json()["problems"][0]["path"] == "file"
    response = client.post("/v1/allocations/xlsx", files={"other": ("book.xlsx", b"x", XLSX)})
    assert response.status_code == 422 and response.json()["problems"][0]["path"] == "file"


def test_corrupt_compressed_data_is_a_422_not_a_500(template):
    """Damaged deflate streams (zlib errors) and CRC mismatches are reported as an unreadable file."""
    archive = zipfile.ZipFile(io.BytesIO(template))
    info = archive.getinfo("xl/worksheets/sheet3.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for at in range(start + 10, start + info.compress_size - 10, max(1, info.compress_size // 12)):
        damaged = bytearray(template)
        damaged[at : at + 8] = b"\xff" * 8
        with pytest.raises(InvalidRequest) as caught:
            read_workbook(io.BytesIO(bytes(damaged)), Limits())
        assert caught.value.problems[0].path == "file"
