"""The input sheets: the downloadable template, and the inputs of a result workbook.

Sheets Settings, Minerals, Suppliers and Policy (plus a hidden Lists sheet
holding the country codes for the dropdowns), pre-filled with a request (the
dla-2025 example by default), with a note on every header, dropdowns for the
objective, the discount and the country codes, and number formats; and
Scenarios, variants of the request to compare with it, one change per row
(the dla-2025 template has two: no Chinese supply, no tariff on China).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from models import AllocationRequest
from models.changes import Variant
from models.countries import ISO_3166_ALPHA2
from service.spreadsheet import layout as L
from service.spreadsheet.safety import set_text

HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
NOTE_AUTHOR = "Stockpile"
INPUT_ROWS = 2_000  # rows covered by the dropdowns and number formats of the template


def put(ws: Worksheet, row: int, col: int, value: Any, number_format: str | None = None) -> None:
    """Write one value: text is always a string cell (never a formula), numbers stay numbers."""
    cell = ws.cell(row=row, column=col)
    if value is None:
        return
    if isinstance(value, str):
        set_text(cell, value)
    else:
        cell.value = value
        if number_format and number_format != L.PLAIN:
            cell.number_format = number_format


def header(ws: Worksheet, names: Sequence[str], notes: Sequence[str] | None = None, row: int = 1) -> None:
    for col, name in enumerate(names, start=1):
        cell = ws.cell(row=row, column=col)
        set_text(cell, name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center")
        if notes and notes[col - 1]:
            cell.comment = Comment(notes[col - 1], NOTE_AUTHOR, height=120, width=260)
    if row == 1:
        ws.freeze_panes = "A2"


def size_columns(ws: Worksheet, minimum: int = 8, maximum: int = 48) -> None:
    """Column widths from the longest shown value (numbers counted as formatted, roughly)."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            text = f"{cell.value:,.2f}" if isinstance(cell.value, float) else str(cell.value)
            widths[cell.column] = max(widths.get(cell.column, 0), len(text) + 2)
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = max(minimum, min(maximum, width))


def printable(ws: Worksheet) -> None:
    """Landscape, one page wide: the sheet prints (and converts to PDF) readably."""
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0


def _dropdown(ws: Worksheet, formula: str, cells: str, prompt: str, strict: bool = True) -> None:
    dv = DataValidation(type="list", formula1=formula, allow_blank=True, showDropDown=False)
    dv.showErrorMessage = strict
    dv.errorStyle = "stop" if strict else "information"
    dv.error = prompt
    dv.errorTitle = "Not in the list"
    dv.showInputMessage = False
    ws.add_data_validation(dv)
    dv.add(cells)


def _quoted(values: Iterable[str]) -> str:
    return '"' + ",".join(values) + '"'


def _table_sheet(ws: Worksheet, columns: Sequence[L.Column]) -> None:
    header(ws, [c.header for c in columns], [c.note + (" Required." if c.required else "") for c in columns])
    for col, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = max(c.width, len(c.header) + 3)


def _format_column(ws: Worksheet, col: int, number_format: str) -> None:
    """A column style, so that rows a planner adds get the number format too."""
    if number_format != L.PLAIN:
        ws.column_dimensions[get_column_letter(col)].number_format = number_format


def write_inputs(wb: Workbook, request: AllocationRequest) -> None:
    """Add the four input sheets (and the hidden Lists sheet) holding ``request``."""
    lists = wb.create_sheet(L.LISTS)
    codes = sorted(ISO_3166_ALPHA2)
    for row, code in enumerate(codes, start=1):
        put(lists, row, 1, code)
    lists.sheet_state = "hidden"
    country_list = f"{L.LISTS}!$A$1:$A${len(codes)}"

    # Settings
    ws = wb.create_sheet(L.SETTINGS, 0)
    header(ws, ["setting", "value", "meaning"], ["Setting name; do not change.", "Your value.", None])
    values = {
        "budget": request.budget,
        "objective": request.objective.value,
        "time_limit_s": request.options.time_limit_s,
        "mip_gap": request.options.mip_gap,
    }
    for row, s in enumerate(L.SETTINGS_ROWS, start=2):
        put(ws, row, 1, s.name)
        put(ws, row, 2, values[s.name], s.number_format)
        put(ws, row, 3, s.note)
        ws.cell(row=row, column=3).alignment = Alignment(wrap_text=True, vertical="top")
    objective_row = 2 + [s.name for s in L.SETTINGS_ROWS].index("objective")
    _dropdown(ws, _quoted(L.OBJECTIVES), f"B{objective_row}", "objective is max_coverage or min_cost")
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width, ws.column_dimensions["C"].width = 16, 18, 90

    # Minerals
    ws = wb.create_sheet(L.MINERALS, 1)
    _table_sheet(ws, L.MINERAL_COLUMNS)
    for row, m in enumerate(request.minerals, start=2):
        for col, c in enumerate(L.MINERAL_COLUMNS, start=1):
            put(ws, row, col, getattr(m, c.header), c.number_format)
    for col, c in enumerate(L.MINERAL_COLUMNS, start=1):
        _format_column(ws, col, c.number_format)

    # Suppliers
    ws = wb.create_sheet(L.SUPPLIERS, 2)
    tiers = max([L.TEMPLATE_TIERS] + [len(s.price_tiers or ()) for s in request.suppliers])
    columns = L.SUPPLIER_BASE_COLUMNS + tuple(c for n in range(1, tiers + 1) for c in L.tier_columns(n))
    _table_sheet(ws, columns)
    for row, s in enumerate(request.suppliers, start=2):
        for col, c in enumerate(L.SUPPLIER_BASE_COLUMNS, start=1):
            value = getattr(s, c.header)
            if c.header == "discount" and s.price_tiers is None and "discount" not in s.model_fields_set:
                value = None
            put(ws, row, col, getattr(value, "value", value), c.number_format)
        for k, tier in enumerate(s.price_tiers or ()):
            col = len(L.SUPPLIER_BASE_COLUMNS) + 2 * k + 1
            put(ws, row, col, tier.up_to, L.QUANTITY)
            put(ws, row, col + 1, tier.unit_price, L.MONEY)
    for col, c in enumerate(columns, start=1):
        _format_column(ws, col, c.number_format)
    letter = {c.header: get_column_letter(i) for i, c in enumerate(columns, start=1)}
    _dropdown(
        ws,
        country_list,
        f"{letter['country']}2:{letter['country']}{INPUT_ROWS}",
        "country is an ISO 3166 alpha-2 code, e.g. US, AU, CN",
    )
    _dropdown(
        ws,
        _quoted(L.DISCOUNTS),
        f"{letter['discount']}2:{letter['discount']}{INPUT_ROWS}",
        "discount is incremental or all_units",
    )
    _dropdown(
        ws,
        f"{L.MINERALS}!$A$2:$A${INPUT_ROWS}",
        f"{letter['mineral']}2:{letter['mineral']}{INPUT_ROWS}",
        "mineral is an id from the Minerals sheet",
        strict=False,
    )

    # Policy
    ws = wb.create_sheet(L.POLICY, 3)
    _table_sheet(ws, L.POLICY_COLUMNS)
    rows: list[tuple[str, str | None, float | None, str | None]] = []
    policy = request.policy
    rows += [("tariff", code, rate, None) for code, rate in policy.tariffs.items()]
    if policy.excluded_countries:
        rows.append(("exclude", ", ".join(policy.excluded_countries), None, None))
    rows += [
        ("country_cap", ", ".join(cap.countries), cap.max_share, ", ".join(cap.minerals) if cap.minerals else None)
        for cap in policy.country_caps
    ]
    rows.append(("max_supplier_share", None, policy.max_supplier_share, None))
    if policy.max_suppliers is not None:
        rows.append(("max_suppliers", None, policy.max_suppliers, None))
    for row, (rule, countries, value, minerals) in enumerate(rows, start=2):
        put(ws, row, 1, rule)
        put(ws, row, 2, countries)
        put(ws, row, 3, value, L.RULE_FORMATS.get(rule))
        put(ws, row, 4, minerals)
    _dropdown(ws, _quoted(L.POLICY_RULES), f"A2:A{INPUT_ROWS}", "rule is one of " + ", ".join(L.POLICY_RULES))
    _dropdown(
        ws, country_list, f"B2:B{INPUT_ROWS}", "countries: ISO 3166 alpha-2 codes, separated by commas", strict=False
    )
    for title in L.INPUT_SHEETS:
        printable(wb[title])


def new_workbook() -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def select(wb: Workbook, title: str) -> None:
    """Make one sheet the active, only selected one (several selected tabs would group them)."""
    for ws in wb.worksheets:
        ws.sheet_view.tabSelected = False
    wb.active = wb.sheetnames.index(title)
    wb[title].sheet_view.tabSelected = True


def to_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# The scenarios the dla-2025 template comes with.
DLA_SCENARIOS: tuple[Variant, ...] = (
    Variant.model_validate({"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]}),
    Variant.model_validate({"name": "no-tariff", "changes": [{"op": "set_tariff", "country": "CN", "rate": 0}]}),
)


def _scenario_value(change: Any) -> Any:
    """A change's value as the Scenarios sheet's ``value`` cell holds it."""
    key = L.SCENARIO_VALUE_KEYS.get(change.op, "value")
    value = getattr(change, key, None)
    if change.op == "set_policy" and value is not None:
        if change.field == "tariffs":
            return ", ".join(f"{code}: {rate:g}" for code, rate in change.policy_value().items())
        if change.field == "country_caps":
            return json.dumps(value, separators=(", ", ": "))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return value


def write_scenarios(wb: Workbook, variants: Sequence[Variant], index: int | None = None) -> None:
    """Add the Scenarios sheet (headers, notes, dropdowns) holding ``variants``, one change per row."""
    ws = wb.create_sheet(L.SCENARIOS, index)
    _table_sheet(ws, L.SCENARIO_COLUMNS)
    row = 2
    for variant in variants:
        for change in variant.changes:
            put(ws, row, 1, variant.name)
            put(ws, row, 2, change.op)
            for col, c in enumerate(L.SCENARIO_COLUMNS[2:6], start=3):
                put(ws, row, col, getattr(change, c.header, None))
            put(ws, row, 7, _scenario_value(change))
            row += 1
    _dropdown(ws, _quoted(L.SCENARIO_OPS), f"B2:B{INPUT_ROWS}", "op is one of " + ", ".join(L.SCENARIO_OPS))
    _dropdown(ws, f"{L.MINERALS}!$A$2:$A${INPUT_ROWS}", f"C2:C{INPUT_ROWS}", "an id from Minerals", strict=False)
    _dropdown(ws, f"{L.LISTS}!$A$1:$A${len(ISO_3166_ALPHA2)}", f"E2:E{INPUT_ROWS}", "an ISO 3166 alpha-2 code")
    _dropdown(ws, _quoted(L.SCENARIO_FIELDS), f"F2:F{INPUT_ROWS}", "field is one of " + ", ".join(L.SCENARIO_FIELDS))
    printable(ws)


def template_bytes(request: AllocationRequest | None = None, variants: Sequence[Variant] | None = None) -> bytes:
    """The template workbook, pre-filled with ``request`` (default: the dla-2025 example and its scenarios).

    ``variants`` fill the Scenarios sheet (default: none for a given request).
    """
    if request is None:
        from service.examples import example_request

        request = example_request("dla-2025")
        variants = DLA_SCENARIOS if variants is None else variants
    wb = new_workbook()
    write_inputs(wb, request)
    write_scenarios(wb, variants or (), index=len(L.INPUT_SHEETS))
    select(wb, L.SETTINGS)
    return to_bytes(wb)
