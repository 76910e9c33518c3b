"""The comparison workbook and the Scenarios sheet: the workbook's figures are the JSON's, LibreOffice opens it,
the template's scenarios read back, every problem of the sheet is reported by cell, an upload compares them."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import Any

import pytest

from analyses import compare
from models import AllocationRequest
from models.analyses import ComparisonRequest, ComparisonResult
from models.changes import Variant
from service.errors import InvalidRequest
from service.spreadsheet import Limits, template_bytes
from service.spreadsheet import layout as L
from service.spreadsheet.comparison import ALONE, SUMMARY_COLUMNS, comparison_workbook, describe_changes
from service.spreadsheet.template import DLA_SCENARIOS
from service.spreadsheet.xlsx_reader import read_book

from .conftest import load, save
from .test_roundtrip import XLSX, _soffice, same

EVIL = '=HYPERLINK("http://x","y")'
VARIANTS: list[dict[str, Any]] = [
    {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]},
    # cobalt capacity at 1%: two cobalt offers' minimum order or lot no longer fits (unavailable)
    {"name": EVIL, "changes": [{"op": "scale_capacity", "mineral": "cobalt", "factor": 0.01}]},
    {
        "name": "lean",
        "changes": [{"op": "scale_budget", "factor": 0.5}, {"op": "set_tariff", "country": "CN", "rate": 0}],
    },
]


@pytest.fixture(scope="module")
def compared(dla) -> tuple[ComparisonRequest, ComparisonResult, bytes]:
    comparison = ComparisonRequest.model_validate({"request": dla, "variants": VARIANTS})
    result = compare(comparison)
    return comparison, result, comparison_workbook(comparison, result)


def _rows(ws) -> list[dict[str, Any]]:
    values = [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def _summary_expected(result: ComparisonResult) -> list[dict[str, Any]]:
    out = []
    for s in result.scenarios:
        d = s.delta
        out.append(
            {
                "scenario": s.name,
                "status": s.result.status.value,
                "coverage_score": s.result.coverage_score,
                "total_spend": s.result.total_spend,
                "budget": s.result.budget,
                "premium_over_market": s.premium_over_market,
                "delta_coverage_score": d.coverage_score if d else None,
                "delta_total_spend": d.total_spend if d else None,
                "delta_premium_over_market": d.premium_over_market if d else None,
                "offers_changed": len(d.offers) if d else None,
                "changes": describe_changes(s.changes),
                "unavailable_offers": "; ".join(f"{u.supplier_id} ({u.reason})" for u in s.unavailable_offers) or None,
            }
        )
    return out


def _check_figures(wb, comparison: ComparisonRequest, result: ComparisonResult, names=ALONE, rel=1e-15) -> None:
    summary = _rows(wb[names.summary])
    assert list(summary[0]) == [name for name, _ in SUMMARY_COLUMNS]
    assert same(summary, _summary_expected(result), rel)
    allocations = _rows(wb[names.allocations])
    assert [r["supplier_id"] for r in allocations] == [o.id for o in comparison.request.suppliers]
    for k, scenario in enumerate(result.scenarios):
        bought = {line.supplier_id: line.quantity for line in scenario.result.allocations}
        gone = {u.supplier_id for u in scenario.unavailable_offers}
        column = [r[scenario.name] for r in allocations]
        expected = [None if o.id in gone else bought.get(o.id, 0) for o in comparison.request.suppliers]
        assert same(column, expected, rel), scenario.name
        assert list(allocations[0])[4 + k] == scenario.name
    minerals = _rows(wb[names.minerals])
    assert [r["id"] for r in minerals] == [m.id for m in comparison.request.minerals]
    for scenario in result.scenarios:
        coverage = {m.id: m.coverage for m in scenario.result.minerals}
        assert same([r[scenario.name] for r in minerals], [coverage[r["id"]] for r in minerals], rel)


def test_the_workbook_holds_the_figures_of_the_json(compared):
    comparison, result, book = compared
    wb = load(book)
    assert wb.sheetnames == list(ALONE.all())
    assert [s.name for s in result.scenarios] == ["base", *(v["name"] for v in VARIANTS)]
    _check_figures(wb, comparison, result)
    # the variant that lost offers shows them blank, and says why on the summary
    evil = next(s for s in result.scenarios if s.name == EVIL)
    assert evil.unavailable_offers and "minimum order" in _rows(wb[ALONE.summary])[2]["unavailable_offers"]
    lean = _rows(wb[ALONE.summary])[3]
    assert lean["changes"] == "budget x0.5; no tariff on CN" and math.isclose(lean["budget"], 5e8)


def test_text_from_the_request_is_never_a_formula(compared):
    _, _, book = compared
    archive = zipfile.ZipFile(io.BytesIO(book))
    sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in s or "<f " in s for s in sheets)
    wb = load(book)
    headers = [c for c in next(wb[ALONE.allocations].iter_rows(min_row=1, max_row=1)) if c.value == EVIL]
    assert headers and all(c.data_type == "s" for c in headers)


def test_native_charts_of_scores_spend_and_coverage_per_mineral(compared):
    _, result, book = compared
    archive = zipfile.ZipFile(io.BytesIO(book))
    charts = sorted(n for n in archive.namelist() if n.startswith("xl/charts/chart"))
    assert len(charts) == 3
    text = [archive.read(n).decode() for n in charts]
    assert "Coverage score per scenario" in text[0] and "Spend and budget per scenario" in text[1]
    assert "Coverage per mineral per scenario" in text[2]
    assert text[2].count("<ser>") == len(result.scenarios)  # one series per scenario


def test_libreoffice_opens_the_comparison_workbook(compared, tmp_path: Path):
    comparison, result, book = compared
    path = tmp_path / "comparison.xlsx"
    path.write_bytes(book)
    (tmp_path / "lo").mkdir()
    done = _soffice(tmp_path, [path], "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    assert done.returncode == 0, done.stdout + done.stderr
    resaved = (tmp_path / "lo" / "comparison.xlsx").read_bytes()
    charts = [n for n in zipfile.ZipFile(io.BytesIO(resaved)).namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 3
    _check_figures(load(resaved), comparison, result, rel=1e-13)  # LibreOffice keeps 15 digits


# -- the Scenarios sheet --------------------------------------------------------------------


def test_the_template_has_the_scenarios_sheet_with_notes_and_dropdowns(template):
    wb = load(template)
    assert wb.sheetnames.index("Scenarios") == len(L.INPUT_SHEETS)
    ws = wb["Scenarios"]
    headers = [c for c in ws[1] if c.value is not None]
    assert [c.value for c in headers] == [c.header for c in L.SCENARIO_COLUMNS]
    assert all(c.comment is not None and c.comment.text for c in headers)
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert all(op in lists["B2"] for op in L.SCENARIO_OPS)
    assert all(f in lists["F2"] for f in L.SCENARIO_FIELDS)
    assert "Lists" in lists["E2"] and "Minerals" in lists["C2"]


def test_the_template_scenarios_read_back(template, dla):
    book = read_book(io.BytesIO(template), Limits())
    assert book.request == AllocationRequest.model_validate(dla)
    assert book.variants == list(DLA_SCENARIOS)


EVERY_OP: list[dict[str, Any]] = [
    {
        "name": "all",
        "changes": [
            {"op": "set_budget", "value": 8e8},
            {"op": "scale_budget", "factor": 1.1},
            {"op": "exclude_countries", "countries": ["RU", "BY"]},
            {"op": "set_tariff", "country": "ID", "rate": 0.25},
            {"op": "scale_prices", "mineral": "cobalt", "country": "CA", "factor": 1.2},
            {"op": "scale_capacity", "supplier": "sc-rio", "factor": 0.5},
            {"op": "set_mineral", "mineral": "cobalt", "field": "max_spend", "value": None},
            {"op": "set_mineral", "mineral": "indium", "field": "target", "value": 200},
        ],
    },
    {
        "name": "policy",
        "changes": [
            {"op": "set_policy", "field": "max_supplier_share", "value": 0.6},
            {"op": "set_policy", "field": "max_suppliers", "value": 3},
            {"op": "set_policy", "field": "tariffs", "value": {"CN": 0.5, "ID": 0.1}},
            {"op": "set_policy", "field": "excluded_countries", "value": ["RU", "KP"]},
            {"op": "set_policy", "field": "country_caps", "value": [{"countries": ["CN"], "max_share": 0.3}]},
            {"op": "set_policy", "field": "country_caps", "value": None},
        ],
    },
]


def test_every_op_written_to_the_sheet_reads_back_the_same(dla):
    variants = [Variant.model_validate(v) for v in EVERY_OP]
    book = template_bytes(AllocationRequest.model_validate(dla), variants)
    assert read_book(io.BytesIO(book), Limits()).variants == variants


def _with_rows(template: bytes, rows: list[tuple[Any, ...]], start: int = 2) -> bytes:
    wb = load(template)
    ws = wb["Scenarios"]
    ws.delete_rows(2, ws.max_row)
    for r, values in enumerate(rows, start=start):
        for c, v in enumerate(values, start=1):
            ws.cell(row=r, column=c).value = v
    return save(wb)


def test_values_are_read_for_their_op(template):
    rows = [
        ("a", "exclude_countries", None, None, "ru", None, "by, kp"),  # country and value lists together
        ("a", "set_policy", None, None, None, "tariffs", "CN: 50%, id=0.1"),
        ("b", "set_tariff", None, None, "CN", None, "0"),  # a number typed as text
        ("a", "set_policy", None, None, None, "max_suppliers", 2.0),
        ("b", "set_mineral", "cobalt", None, None, "max_spend", None),  # blank: removed
        (None, None, None, None, None, None, None),
        ("b", "Scale_Prices", None, "sc-rio", None, None, "80%"),
    ]
    variants = read_book(io.BytesIO(_with_rows(template, rows)), Limits()).variants
    assert [v.model_dump(exclude_none=True) for v in variants] == [
        {
            "name": "a",
            "changes": [
                {"op": "exclude_countries", "countries": ["RU", "BY", "KP"]},
                {"op": "set_policy", "field": "tariffs", "value": {"CN": 0.5, "ID": 0.1}},
                {"op": "set_policy", "field": "max_suppliers", "value": 2},
            ],
        },
        {
            "name": "b",
            "changes": [
                {"op": "set_tariff", "country": "CN", "rate": 0.0},
                {"op": "set_mineral", "mineral": "cobalt", "field": "max_spend"},
                {"op": "scale_prices", "supplier": "sc-rio", "factor": 0.8},
            ],
        },
    ]


BAD_ROWS = [
    ("a", "scale_prices", "cobalt", None, None, None, "abc"),  # G2: not a number
    ("b", "bogus"),  # B3: unknown op
    ("c", "scale_capacity", None, "nope", None, None, 0.5),  # D4: no offer matches
    ("d", "set_policy", None, None, None, "tariffs", "CN: 2, XX: 1"),  # G5: not a country
    ("e", "set_mineral", "cobalt", None, None, "target", -1),  # G6: must be > 0
    ("f", "set_policy", None, None, None, "max_suppliers", 1.5),  # G7: not whole
    ("g", "set_budget", None, None, "CN", None, 5),  # E8: not used by set_budget
    ("base", "set_budget", None, None, None, None, 5),  # A9: the base's name
    (None, "set_budget", None, None, None, None, 5),  # A10: no scenario
]


def test_every_problem_of_the_sheet_is_reported_by_cell_at_once(template):
    with pytest.raises(InvalidRequest) as caught:
        read_book(io.BytesIO(_with_rows(template, BAD_ROWS)), Limits())
    paths = [p.path for p in caught.value.problems]
    assert paths == [f"Scenarios!{c}" for c in ("A10", "G2", "B3", "G5", "G6", "G7", "E8", "D4", "A9")]
    messages = {p.path: p.message for p in caught.value.problems}
    assert messages["Scenarios!G2"] == "value must be a number"
    assert messages["Scenarios!D4"] == "supplier: no offer matches supplier 'nope'"
    assert messages["Scenarios!B3"].startswith("op must be one of set_budget")
    assert messages["Scenarios!E8"] == "country is not used by this op; leave it blank"


def test_scenario_problems_come_with_the_other_sheets_problems(client, template):
    wb = load(_with_rows(template, BAD_ROWS[:2]))
    wb["Minerals"]["D2"].value = -5
    response = client.post("/v1/allocations/xlsx", files={"file": ("bad.xlsx", save(wb), XLSX)})
    assert response.status_code == 422
    paths = [p["path"] for p in response.json()["problems"]]
    assert paths == ["Minerals!D2", "Scenarios!G2", "Scenarios!B3"]


def test_an_upload_with_scenarios_gets_the_comparison_beside_the_allocation(client, template, dla):
    response = client.post("/v1/allocations/xlsx", files={"file": ("allocation.xlsx", template, XLSX)})
    assert response.status_code == 200, response.text
    wb = load(response.content)
    names = L.SCENARIO_OUTPUT_SHEETS
    assert wb.sheetnames[-3:] == list(names)
    comparison = ComparisonRequest.model_validate({"request": dla, "variants": [v.model_dump() for v in DLA_SCENARIOS]})
    from service.spreadsheet.comparison import BESIDE

    expected = compare(comparison)
    summary = _rows(wb[BESIDE.summary])
    assert [r["scenario"] for r in summary] == ["base", "no-china", "no-tariff"]
    # the same figures as a comparison solved on its own (the solves are deterministic; 1e-9 for the solver)
    assert same(summary, _summary_expected(expected), rel=1e-9)
    _check_figures(wb, comparison, expected, names=BESIDE, rel=1e-9)
    # and the base scenario is the allocation of the Allocation sheet
    base = {r["supplier_id"]: r["quantity"] for r in _rows(wb["Allocation"])}
    column = {r["supplier_id"]: r["base"] for r in _rows(wb[BESIDE.allocations]) if r["base"]}
    assert same(column, base, rel=1e-9)


def test_more_scenarios_than_the_cap_is_a_422_before_any_solve(template):
    from .conftest import capped_client

    cap = 3  # the setting STOCKPILE_MAX_VARIANTS
    rows = [(f"s{k}", "scale_budget", None, None, None, None, 1 + k / 100) for k in range(cap + 1)]
    with capped_client(max_variants=cap) as client:  # its gateway fails the test if anything is solved
        response = client.post("/v1/allocations/xlsx", files={"file": ("many.xlsx", _with_rows(template, rows), XLSX)})
    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert problem["path"] == "Scenarios" and problem["code"] == "too_many_variants"
    assert f"at most {cap}" in problem["message"]
