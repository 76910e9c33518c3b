"""The result workbook: the inputs unchanged, then Allocation, Mineral summary, Diagnostics, Charts.

Every figure of the JSON result is in it, as a number with a number format:
the allocation lines on ``Allocation``, the per-mineral figures (and the
share of each country) on ``Mineral summary``, the top-level figures and the
findings on ``Diagnostics``; ``Charts`` holds native Excel charts (spend by
mineral, spend by country, coverage per mineral against the target).
"""

from __future__ import annotations

import warnings
from typing import IO, Any

import openpyxl
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.legend import Legend
from openpyxl.workbook import Workbook

from models import AllocationRequest, AllocationResult
from models.analyses import ComparisonRequest, ComparisonResult
from service.spreadsheet import layout as L
from service.spreadsheet.safety import needs_escape, set_text
from service.spreadsheet.template import (
    HEADER_FILL,
    HEADER_FONT,
    header,
    new_workbook,
    printable,
    put,
    select,
    size_columns,
    to_bytes,
    write_inputs,
)

FIGURES: tuple[tuple[str, str], ...] = (
    ("status", L.PLAIN),
    ("objective", L.PLAIN),
    ("objective_value", "#,##0.######"),
    ("coverage_score", "0.0000%"),
    ("total_spend", L.MONEY),
    ("budget", L.MONEY),
    ("budget_remaining", L.MONEY),
    ("mip_gap", "0.0000%"),
    ("best_bound", "#,##0.######"),
    ("solve_seconds", "0.000"),
)
MODEL_FIGURES = ("variables", "binaries", "integers", "constraints")
FINDING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", L.PLAIN),
    ("severity", L.PLAIN),
    ("message", L.PLAIN),
    ("mineral", L.PLAIN),
    ("requirement", L.PLAIN),
    ("required", L.QUANTITY),
    ("achievable", L.QUANTITY),
    ("shortfall", L.QUANTITY),
)
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", L.PLAIN),
    ("name", L.PLAIN),
    ("unit", L.PLAIN),
    ("quantity", L.QUANTITY),
    ("target", L.QUANTITY),
    ("coverage", L.SHARE),
    ("spend", L.MONEY),
    ("suppliers_used", L.INTEGER),
)


def _scalar(value: Any) -> Any:
    return getattr(value, "value", value)


def _allocation(wb: Workbook, result: AllocationResult) -> None:
    ws = wb.create_sheet(L.ALLOCATION)
    header(ws, [name for name, _ in L.ALLOCATION_COLUMNS])
    for row, line in enumerate(result.allocations, start=2):
        for col, (name, fmt) in enumerate(L.ALLOCATION_COLUMNS, start=1):
            put(ws, row, col, getattr(line, name), fmt)
    ws.auto_filter.ref = f"A1:{ws.cell(row=1, column=len(L.ALLOCATION_COLUMNS)).column_letter}{max(1, ws.max_row)}"
    size_columns(ws)


def _countries(result: AllocationResult) -> list[str]:
    seen: dict[str, None] = {}
    for m in result.minerals:
        for code in m.share_by_country:
            seen.setdefault(code, None)
    return list(seen)


def _summary(wb: Workbook, result: AllocationResult) -> None:
    ws = wb.create_sheet(L.MINERAL_SUMMARY)
    countries = _countries(result)
    header(ws, [n for n, _ in SUMMARY_COLUMNS] + [f"share_{c}" for c in countries])
    for row, m in enumerate(result.minerals, start=2):
        for col, (name, fmt) in enumerate(SUMMARY_COLUMNS, start=1):
            put(ws, row, col, getattr(m, name), fmt)
        for k, code in enumerate(countries):
            put(ws, row, len(SUMMARY_COLUMNS) + k + 1, m.share_by_country.get(code), L.SHARE)
    size_columns(ws)


def _diagnostics(wb: Workbook, result: AllocationResult) -> None:
    ws = wb.create_sheet(L.DIAGNOSTICS)
    header(ws, ["figure", "value"])
    row = 2
    for name, fmt in FIGURES:
        put(ws, row, 1, name)
        put(ws, row, 2, _scalar(getattr(result, name)), fmt)
        row += 1
    for name in MODEL_FIGURES:
        put(ws, row, 1, f"model.{name}")
        put(ws, row, 2, getattr(result.model, name), L.INTEGER)
        row += 1
    row += 1
    header(ws, [n for n, _ in FINDING_COLUMNS], row=row)
    first = row + 1
    for k, finding in enumerate(result.diagnostics):
        for col, (name, fmt) in enumerate(FINDING_COLUMNS, start=1):
            put(ws, first + k, col, _scalar(getattr(finding, name)), fmt)
    if not result.diagnostics:
        put(ws, first, 1, "(no findings)")
    size_columns(ws, maximum=100)


def _charts(wb: Workbook, result: AllocationResult) -> None:
    ws = wb.create_sheet(L.CHARTS)
    # The charts' data, beside them: per mineral (spend, coverage, target) and per country (spend).
    header(ws, ["mineral", "spend", "coverage", "target"])
    for row, m in enumerate(result.minerals, start=2):
        put(ws, row, 1, m.name or m.id)
        put(ws, row, 2, m.spend, "#,##0")
        put(ws, row, 3, m.coverage, L.SHARE)
        put(ws, row, 4, 1.0, L.SHARE)
    by_country: dict[str, float] = {}
    for line in result.allocations:
        by_country[line.country] = by_country.get(line.country, 0.0) + line.spend
    for col, name in ((6, "country"), (7, "spend")):
        cell = ws.cell(row=1, column=col)
        set_text(cell, name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    # Nothing bought (an infeasible request): one zero row, so that the chart still has a series.
    ranked = sorted(by_country.items(), key=lambda kv: -kv[1]) or [("(none)", 0.0)]
    for row, (code, spend) in enumerate(ranked, start=2):
        put(ws, row, 6, code)
        put(ws, row, 7, spend, "#,##0")
    size_columns(ws)
    n, k = len(result.minerals), len(ranked)

    spend = _column_chart(ws, "Spend by mineral", "spend", "#,##0", data_col=2, label_col=1, rows=n)
    ws.add_chart(spend, "I2")
    country = _column_chart(ws, "Spend by country", "spend", "#,##0", data_col=7, label_col=6, rows=k)
    ws.add_chart(country, "I19")
    title = "Coverage per mineral against target"
    coverage = _column_chart(ws, title, "coverage", "0%", data_col=3, label_col=1, rows=n)
    coverage.legend = Legend()  # coverage and target, so a legend this time
    coverage.y_axis.scaling.min, coverage.y_axis.scaling.max = 0, 1.1
    target = LineChart()
    target.add_data(Reference(ws, min_col=4, min_row=1, max_row=n + 1), titles_from_data=True)
    target.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    coverage += target
    ws.add_chart(coverage, "I36")


def _column_chart(ws, title: str, axis: str, number_format: str, data_col: int, label_col: int, rows: int) -> BarChart:
    """A native column chart of one data column (header in row 1) against a label column."""
    chart = BarChart()
    chart.type, chart.title, chart.style = "col", title, 10
    chart.y_axis.title, chart.y_axis.numFmt = axis, number_format
    chart.add_data(Reference(ws, min_col=data_col, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=label_col, min_row=2, max_row=rows + 1))
    chart.legend = None
    chart.width, chart.height = 18, 8
    return chart


def _copy_of(source: IO[bytes]) -> Workbook | None:
    """The uploaded workbook, to carry its input sheets over unchanged (None if it cannot be loaded)."""
    try:
        source.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(source, data_only=False, keep_links=False)
    except Exception:  # noqa: BLE001 - it was already read once; fall back to writing the inputs afresh
        return None
    for title in list(wb.sheetnames):
        if title.strip().lower() in {s.lower() for s in (*L.OUTPUT_SHEETS, *L.SCENARIO_OUTPUT_SHEETS)}:
            del wb[title]  # a result workbook uploaded again: its old outputs are replaced
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "s" and isinstance(cell.value, str) and needs_escape(cell.value):
                    set_text(cell, cell.value)
    return wb


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def result_workbook(
    request: AllocationRequest,
    result: AllocationResult,
    source: IO[bytes] | None = None,
    comparison: tuple[ComparisonRequest, ComparisonResult] | None = None,
) -> Workbook:
    """The inputs (``source``'s sheets, or written afresh) and the result sheets; with ``comparison``,
    the comparison sheets after them (``Scenario summary``, ``Scenario allocations``, ``Scenario minerals``)."""
    wb = _copy_of(source) if source is not None else None
    if wb is None:
        wb = new_workbook()
        write_inputs(wb, request)
    _allocation(wb, result)
    _summary(wb, result)
    _diagnostics(wb, result)
    _charts(wb, result)
    for title in L.OUTPUT_SHEETS:
        printable(wb[title])
    if comparison is not None:
        from service.spreadsheet.comparison import BESIDE, add_comparison_sheets

        add_comparison_sheets(wb, *comparison, names=BESIDE)
    select(wb, L.ALLOCATION)
    return wb


def result_bytes(
    request: AllocationRequest,
    result: AllocationResult,
    source: IO[bytes] | None = None,
    comparison: tuple[ComparisonRequest, ComparisonResult] | None = None,
) -> bytes:
    """The result workbook as XLSX bytes; ``source`` is the uploaded workbook whose inputs are kept,
    ``comparison`` its scenarios compared (their sheets are added)."""
    return to_bytes(result_workbook(request, result, source, comparison))
