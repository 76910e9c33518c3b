"""The template: sheets, pre-filled example, notes, dropdowns, number formats; HTTP and CLI."""

from __future__ import annotations

import io
from pathlib import Path

from models import AllocationRequest
from models.countries import ISO_3166_ALPHA2
from service.cli import main
from service.spreadsheet import Limits, read_workbook
from service.spreadsheet import layout as L

from .conftest import load


def _validations(ws):
    return {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}


def test_template_holds_the_dla_example_and_reads_back_to_the_same_request(template, dla):
    wb = load(template)
    assert wb.sheetnames[:4] == ["Settings", "Minerals", "Suppliers", "Policy"]
    request = read_workbook(io.BytesIO(template), Limits())
    assert request.model_dump() == AllocationRequest.model_validate(dla).model_dump()
    assert wb["Suppliers"].max_row == 1 + len(dla["suppliers"])


def test_every_header_has_a_note_and_is_frozen_and_styled(template):
    wb = load(template)
    for title in ("Minerals", "Suppliers", "Policy"):
        ws = wb[title]
        assert ws.freeze_panes == "A2"
        for cell in ws[1]:
            assert cell.comment is not None and len(cell.comment.text) > 10, (title, cell.value)
            assert cell.font.bold
    capacity = next(c for c in wb["Suppliers"][1] if c.value == "capacity")
    assert "> 0" in capacity.comment.text


def test_dropdowns_for_objective_discount_and_countries(template):
    wb = load(template)
    settings = _validations(wb["Settings"])
    objective_row = 2 + [s.name for s in L.SETTINGS_ROWS].index("objective")
    assert settings[f"B{objective_row}"].formula1 == '"max_coverage,min_cost"'
    suppliers = _validations(wb["Suppliers"])
    header = [c.value for c in wb["Suppliers"][1]]
    col = {name: chr(ord("A") + i) for i, name in enumerate(header)}
    assert suppliers[f"{col['discount']}2:{col['discount']}2000"].formula1 == '"incremental,all_units"'
    country = suppliers[f"{col['country']}2:{col['country']}2000"]
    assert country.type == "list" and country.formula1 == "Lists!$A$1:$A$249"
    lists = wb["Lists"]
    assert lists.sheet_state == "hidden"
    assert {lists.cell(row=r, column=1).value for r in range(1, 250)} == set(ISO_3166_ALPHA2)


def test_numbers_are_numbers_with_formats(template):
    ws = load(template)["Suppliers"]
    header = [c.value for c in ws[1]]
    capacity = ws.cell(row=2, column=header.index("capacity") + 1)
    assert isinstance(capacity.value, (int, float)) and capacity.number_format == L.QUANTITY
    assert ws.column_dimensions["E"].number_format == L.QUANTITY  # rows a planner adds get it too
    tariff = load(template)["Policy"]["C2"]
    assert tariff.value == 1.0 and tariff.number_format == L.RATE


def test_template_endpoint(client, template):
    response = client.get("/v1/templates/allocation.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "allocation.xlsx" in response.headers["content-disposition"]
    assert load(response.content).sheetnames == load(template).sheetnames


def test_template_command(tmp_path: Path, dla):
    out = tmp_path / "book.xlsx"
    assert main(["template", str(out)]) == 0
    request = read_workbook(out.open("rb"), Limits())
    assert request.model_dump() == AllocationRequest.model_validate(dla).model_dump()
