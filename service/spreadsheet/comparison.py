"""The comparison workbook: scenarios side by side, with native charts.

Sheets:

- ``Scenario summary``: one row per scenario (status, coverage score, total spend,
  budget, premium over market, the deltas against the base, the changes in words,
  the offers the changes left unusable), with charts of the coverage score and the
  spend per scenario;
- ``Allocations``: one row per offer of the base request, one quantity column per
  scenario (0: not bought; blank: the scenario's changes left the offer unusable);
- ``Minerals``: coverage per mineral, one column per scenario, with a chart.

In a result workbook (an uploaded template with a ``Scenarios`` sheet) the same
sheets sit beside the allocation ones as ``Scenario summary``, ``Scenario
allocations`` and ``Scenario minerals`` (``Minerals`` is an input sheet there).
Every text is written as a string cell, never a formula (``template.put``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.chart import BarChart, Reference
from openpyxl.chart.legend import Legend
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from models.analyses import ComparisonRequest, ComparisonResult
from models.changes import (
    ExcludeCountries,
    ScaleBudget,
    ScaleCapacity,
    ScalePrices,
    SetBudget,
    SetMineral,
    SetPolicy,
    SetTariff,
)
from service.spreadsheet import layout as L
from service.spreadsheet.template import header, new_workbook, printable, put, select, size_columns, to_bytes


@dataclass(frozen=True)
class SheetNames:
    summary: str
    allocations: str
    minerals: str

    def all(self) -> tuple[str, str, str]:
        return (self.summary, self.allocations, self.minerals)


ALONE = SheetNames("Scenario summary", "Allocations", "Minerals")
BESIDE = SheetNames(*L.SCENARIO_OUTPUT_SHEETS)

SIGNED_SHARE = "+0.0000%;-0.0000%;0.0000%"
SIGNED_MONEY = "+#,##0.00;-#,##0.00;0.00"
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("scenario", L.PLAIN),
    ("status", L.PLAIN),
    ("coverage_score", "0.0000%"),
    ("total_spend", L.MONEY),
    ("budget", L.MONEY),
    ("premium_over_market", L.MONEY),
    ("delta_coverage_score", SIGNED_SHARE),
    ("delta_total_spend", SIGNED_MONEY),
    ("delta_premium_over_market", SIGNED_MONEY),
    ("offers_changed", L.INTEGER),
    ("changes", L.PLAIN),
    ("unavailable_offers", L.PLAIN),
)
OFFER_COLUMNS = ("supplier_id", "supplier", "mineral", "country")
MINERAL_COLUMNS = ("id", "name", "unit", "target")


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def describe_change(change: Any) -> str:
    """One change in words, e.g. ``exclude CN, RU`` or ``prices x0.9 (mineral 'cobalt')``."""
    match change:
        case SetBudget(value=value):
            return f"budget {_number(value)}"
        case ScaleBudget(factor=factor):
            return f"budget x{factor:g}"
        case ExcludeCountries(countries=countries):
            return "exclude " + ", ".join(countries)
        case SetTariff(country=country, rate=rate):
            return f"no tariff on {country}" if rate == 0 else f"tariff on {country} {rate:.0%}"
        case ScalePrices() | ScaleCapacity():
            what = "prices" if isinstance(change, ScalePrices) else "capacity"
            return f"{what} x{change.factor:g} ({change.described()})"
        case SetMineral(mineral=mineral, field=field, value=value):
            return f"{mineral}: no {field}" if value is None else f"{mineral}: {field} {_number(value)}"
        case SetPolicy(field=field, value=value):
            return f"no {field}" if value is None else f"{field} {json.dumps(value, separators=(',', ': '))}"
    return str(change)


def describe_changes(changes: Sequence[Any]) -> str:
    return "; ".join(describe_change(c) for c in changes) or "(none: the request as given)"


def _summary(wb: Workbook, title: str, result: ComparisonResult) -> Worksheet:
    ws = wb.create_sheet(title)
    header(ws, [name for name, _ in SUMMARY_COLUMNS])
    for row, scenario in enumerate(result.scenarios, start=2):
        r, d = scenario.result, scenario.delta
        values = {
            "scenario": scenario.name,
            "status": r.status.value,
            "coverage_score": r.coverage_score,
            "total_spend": r.total_spend,
            "budget": r.budget,
            "premium_over_market": scenario.premium_over_market,
            "delta_coverage_score": d.coverage_score if d else None,
            "delta_total_spend": d.total_spend if d else None,
            "delta_premium_over_market": d.premium_over_market if d else None,
            "offers_changed": len(d.offers) if d else None,
            "changes": describe_changes(scenario.changes),
            "unavailable_offers": "; ".join(f"{u.supplier_id} ({u.reason})" for u in scenario.unavailable_offers)
            or None,
        }
        for col, (name, fmt) in enumerate(SUMMARY_COLUMNS, start=1):
            put(ws, row, col, values[name], fmt)
    size_columns(ws, maximum=60)
    n = len(result.scenarios)
    anchor = ws.cell(row=1, column=len(SUMMARY_COLUMNS) + 2).coordinate
    column = {name: k for k, (name, _) in enumerate(SUMMARY_COLUMNS, start=1)}
    score = _bar_chart(ws, "Coverage score per scenario", "coverage score", "0%", [column["coverage_score"]], 1, n)
    score.y_axis.scaling.min, score.y_axis.scaling.max = 0, 1
    ws.add_chart(score, anchor)
    spend = _bar_chart(
        ws, "Spend and budget per scenario", "$", "#,##0", [column["total_spend"], column["budget"]], 1, n
    )
    spend.legend = Legend()
    spend.legend.position = "b"
    ws.add_chart(spend, ws.cell(row=18, column=len(SUMMARY_COLUMNS) + 2).coordinate)
    return ws


def _bar_chart(
    ws: Worksheet, title: str, axis: str, number_format: str, data_cols: Sequence[int], label_col: int, rows: int
) -> BarChart:
    """A native clustered column chart: one series per data column (header in row 1), categories from a column."""
    chart = BarChart()
    chart.type, chart.title, chart.style, chart.grouping = "col", title, 10, "clustered"
    chart.y_axis.title, chart.y_axis.numFmt = axis, number_format
    for col in data_cols:
        chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=label_col, min_row=2, max_row=rows + 1))
    chart.legend = None
    chart.width, chart.height = 20, 8
    return chart


def _allocations(wb: Workbook, title: str, comparison: ComparisonRequest, result: ComparisonResult) -> None:
    ws = wb.create_sheet(title)
    header(ws, [*OFFER_COLUMNS, *(s.name for s in result.scenarios)])
    bought = [{line.supplier_id: line.quantity for line in s.result.allocations} for s in result.scenarios]
    gone = [{u.supplier_id for u in s.unavailable_offers} for s in result.scenarios]
    for row, offer in enumerate(comparison.request.suppliers, start=2):
        put(ws, row, 1, offer.id)
        put(ws, row, 2, offer.company)
        put(ws, row, 3, offer.mineral)
        put(ws, row, 4, offer.country)
        for k in range(len(result.scenarios)):
            if offer.id in gone[k]:
                continue  # blank: the offer was not available in this scenario
            put(ws, row, len(OFFER_COLUMNS) + 1 + k, bought[k].get(offer.id, 0.0), L.QUANTITY)
    last = ws.cell(row=1, column=len(OFFER_COLUMNS) + len(result.scenarios)).column_letter
    ws.auto_filter.ref = f"A1:{last}{max(1, ws.max_row)}"
    size_columns(ws)


def _minerals(wb: Workbook, title: str, comparison: ComparisonRequest, result: ComparisonResult) -> None:
    ws = wb.create_sheet(title)
    header(ws, [*MINERAL_COLUMNS, *(s.name for s in result.scenarios)])
    coverage = [{m.id: m.coverage for m in s.result.minerals} for s in result.scenarios]
    minerals = comparison.request.minerals
    for row, mineral in enumerate(minerals, start=2):
        put(ws, row, 1, mineral.id)
        put(ws, row, 2, mineral.label)
        put(ws, row, 3, mineral.unit)
        put(ws, row, 4, mineral.target, L.QUANTITY)
        for k in range(len(result.scenarios)):
            put(ws, row, len(MINERAL_COLUMNS) + 1 + k, coverage[k].get(mineral.id), L.SHARE)
    size_columns(ws)
    first = len(MINERAL_COLUMNS) + 1
    chart = _bar_chart(
        ws,
        "Coverage per mineral per scenario",
        "coverage of the target",
        "0%",
        range(first, first + len(result.scenarios)),
        2,
        len(minerals),
    )
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.legend = Legend()
    chart.legend.position = "b"
    chart.width, chart.height = 24, 10
    ws.add_chart(chart, ws.cell(row=len(minerals) + 3, column=1).coordinate)


def add_comparison_sheets(
    wb: Workbook, comparison: ComparisonRequest, result: ComparisonResult, names: SheetNames = BESIDE
) -> None:
    """Append the comparison sheets to ``wb`` (replacing any of the same names)."""
    for title in names.all():
        if title in wb.sheetnames:
            del wb[title]
    _summary(wb, names.summary, result)
    _allocations(wb, names.allocations, comparison, result)
    _minerals(wb, names.minerals, comparison, result)
    for title in names.all():
        printable(wb[title])


def comparison_workbook(comparison: ComparisonRequest, result: ComparisonResult) -> bytes:
    """The comparison as an XLSX workbook (``Scenario summary``, ``Allocations``, ``Minerals``)."""
    wb = new_workbook()
    add_comparison_sheets(wb, comparison, result, ALONE)
    select(wb, ALONE.summary)
    return to_bytes(wb)
