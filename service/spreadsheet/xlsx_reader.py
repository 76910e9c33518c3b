"""Read an uploaded XLSX workbook into an ``AllocationRequest``.

The archive is checked first (``safety.check_archive``); then openpyxl reads
the four input sheets in read-only (streaming) mode with defusedxml in force.
Each cell is read once with both its saved value and whether it holds a
formula, so that a formula's cached value is used and a formula without one
is reported instead of being mistaken for a blank cell.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import IO, Any

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

from models import AllocationRequest, Problem
from models.changes import Variant
from service.errors import InvalidRequest, StockpileError
from service.spreadsheet import layout as L
from service.spreadsheet.reader import RawCell, Table, _Collector, build_request, xlsx_ref
from service.spreadsheet.safety import Limits, check_archive, file_problem, require_defusedxml
from service.spreadsheet.scenarios import read_scenarios


class _CellParser(WorkSheetParser):
    """openpyxl's streaming sheet parser (saved values), also noting which cells hold formulas."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell = super().parse_cell(element)
        formula = element.find(FORMULA_TAG)
        cell["formula"] = None if formula is None else "=" + (formula.text or "")
        # A formula whose saved value is the empty string (=IF(..., "", ...)): Excel and LibreOffice
        # save it as text (t="str") with an empty <v>; openpyxl saves every formula with an empty
        # <v> and no type, having no value to save.
        cell["saved_empty"] = element.get("t") == "str" and element.find(VALUE_TAG) is not None
        return cell


def _raw(cell: dict[str, Any]) -> RawCell:
    value, kind, formula = cell["value"], cell["data_type"], cell["formula"]
    if value is None or (isinstance(value, str) and not value.strip()):  # (blank to the eye is blank)
        return RawCell(kind="formula", formula=formula) if formula and not cell["saved_empty"] else RawCell()
    if kind == "e":
        return RawCell(value, "error", formula)
    if kind == "b" or isinstance(value, bool):
        return RawCell(value, "bool", formula)
    if isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        return RawCell(value, "date", formula)
    if isinstance(value, (int, float)):
        return RawCell(value, "number", formula)
    return RawCell(str(value), "text", formula)


def _table(wb: Any, ws: ReadOnlyWorksheet, title: str, limits: Limits) -> Table:
    table = Table(name=title)
    with wb._archive.open(ws._worksheet_path) as src:
        parser = _CellParser(
            src,
            ws._shared_strings,  # (wb.shared_strings stays empty in read-only mode)
            data_only=True,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        for count, (row_number, cells) in enumerate(parser.parse(), start=1):
            if count > limits.max_rows:
                table.too_many_rows = limits.max_rows
                return table
            kept = {c["column"]: _raw(c) for c in cells}
            kept = {col: c for col, c in kept.items() if c.kind != "empty"}
            if kept:
                table.rows.append((row_number, kept))
        merged = parser.merged_cells
        if merged is not None:
            table.merged = [xlsx_ref(title, 1, 1).split("!")[0] + "!" + str(m.ref) for m in merged.mergeCell]
    return table


@dataclass(frozen=True)
class Book:
    """What a workbook holds: the request, and the variants of its Scenarios sheet (none without one)."""

    request: AllocationRequest
    variants: list[Variant] = field(default_factory=list)


def read_workbook(f: IO[bytes], limits: Limits) -> AllocationRequest:
    """Check, read and validate an uploaded workbook; ``InvalidRequest`` lists every problem by cell."""
    return read_book(f, limits).request


def read_book(f: IO[bytes], limits: Limits) -> Book:
    """The request and the scenarios of an uploaded workbook; ``InvalidRequest`` lists every problem by cell.

    The Scenarios sheet is optional; its problems are reported with the other sheets', all at once.
    """
    require_defusedxml()
    check_archive(f, limits)
    f.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions; they are irrelevant here
            wb = openpyxl.load_workbook(f, read_only=True, data_only=True, keep_links=False)
            try:
                by_name = {name.strip().lower(): name for name in wb.sheetnames}
                tables: dict[str, Table | None] = {}
                for sheet in (*L.INPUT_SHEETS, L.SCENARIOS):
                    title = by_name.get(sheet.lower())
                    ws = wb[title] if title is not None else None
                    tables[sheet] = _table(wb, ws, title, limits) if isinstance(ws, ReadOnlyWorksheet) else None
            finally:
                wb.close()
    except StockpileError:
        raise
    except Exception as exc:  # noqa: BLE001 - an untrusted file may break the parser in any way: never a 500
        raise file_problem(
            f"the file cannot be read as an XLSX workbook ({type(exc).__name__}: {exc})"[:400], "not_xlsx"
        ) from None
    problems = [
        Problem(
            path=sheet,
            message=f"the sheet '{sheet}' is missing; download the template to see the layout",
            code="missing_sheet",
        )
        for sheet in (L.SETTINGS, L.MINERALS, L.SUPPLIERS)
        if tables[sheet] is None
    ]
    try:
        request: AllocationRequest | None = build_request(
            tables[L.SETTINGS],
            tables[L.MINERALS],
            tables[L.SUPPLIERS],
            tables[L.POLICY],
            xlsx_ref,
            {
                "budget": L.SETTINGS,
                "objective": L.SETTINGS,
                "options": L.SETTINGS,
                "minerals": L.MINERALS,
                "suppliers": L.SUPPLIERS,
                "policy": L.POLICY,
            },
            problems,
        )
        problems = []
    except InvalidRequest as exc:
        request, problems = None, list(exc.problems)
    variants: list[Variant] = []
    scenarios = tables[L.SCENARIOS]
    if scenarios is not None:
        out = _Collector(xlsx_ref)
        for ref in scenarios.merged:
            out.problem(ref, "merged cells are not allowed in the input tables; unmerge them", "merged_cells")
        if scenarios.too_many_rows is not None:
            out.problem(
                scenarios.name,
                f"the sheet has more than {scenarios.too_many_rows:,} rows; the rest was not read",
                "too_many_rows",
            )
        found: list[Problem] = []
        variants = read_scenarios(scenarios, out, request, found)
        problems += out.problems + found
    if problems or request is None:
        raise InvalidRequest(list(dict.fromkeys(problems)))
    return Book(request, variants)
