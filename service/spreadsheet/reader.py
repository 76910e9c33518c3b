"""Tables of cells (from an XLSX sheet or a CSV file) -> a validated ``AllocationRequest``.

Every problem, whether found while reading a cell (a date where a number
belongs, a formula without a saved value, a merged range, a missing column)
or by the request model's validation, is reported against the cell it comes
from (``Suppliers!E7: capacity must be a number > 0``), all at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter
from pydantic import ValidationError

from models import AllocationRequest, Problem, format_path, problems_from_errors
from service.errors import InvalidRequest
from service.spreadsheet import layout as L

_MISSING = object()
_SPLIT = re.compile(r"[,;\s]+")
_TIER_COLUMN = re.compile(r"tier(\d+)_(up_to|unit_price)")


@dataclass(frozen=True)
class RawCell:
    """One cell as read: ``kind`` is empty, number, text, bool, date, error or formula (no saved value)."""

    value: Any = None
    kind: str = "empty"
    formula: str | None = None


EMPTY = RawCell()


@dataclass
class Table:
    """A sheet's cells by row number then column number (1-based), and its merged ranges."""

    name: str
    rows: list[tuple[int, dict[int, RawCell]]] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    too_many_rows: int | None = None


Locator = Callable[[str, int, int], str]


def xlsx_ref(sheet: str, row: int, col: int) -> str:
    quoted = sheet if re.fullmatch(r"[A-Za-z0-9_]+", sheet) else "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!{get_column_letter(col)}{row}"


class _Collector:
    def __init__(self, locate: Locator) -> None:
        self.locate = locate
        self.problems: list[Problem] = []
        self.where: dict[tuple[Any, ...], tuple[str, str | None]] = {}
        self.bad: set[tuple[Any, ...]] = set()  # locations already reported by the reader

    def problem(self, path: str, message: str, code: str, loc: tuple[Any, ...] | None = None) -> None:
        self.problems.append(Problem(path=path, message=message, code=code))
        if loc is not None:
            self.bad.add(loc)

    def cell(self, table: Table, row: int, col: int, loc: tuple[Any, ...], label: str) -> str:
        ref = self.locate(table.name, row, col)
        self.where[loc] = (ref, label)
        return ref

    def convert(self, raw: RawCell, kind: L.Kind, ref: str, label: str, loc: tuple[Any, ...]) -> Any:
        """A cell's value for the request, or ``_MISSING`` (blank, or a problem was reported)."""
        if raw.kind == "empty":
            return _MISSING
        if raw.kind == "formula":
            self.problem(
                ref,
                f"{label}: the formula {raw.formula} has no saved value; open and save the file in a spreadsheet "
                "program (which stores the computed value) or type the value",
                "formula_without_value",
                loc,
            )
            return _MISSING
        if raw.kind == "error":
            self.problem(
                ref, f"{label}: the cell holds the error {raw.value}; fix it or type a value", "cell_error", loc
            )
            return _MISSING
        numeric = kind in ("number", "integer")
        want = "a number" if numeric else "text"
        if raw.kind == "date":
            value = raw.value
            if isinstance(value, dt.datetime) and value.time() == dt.time(0):
                value = value.date()
            shown = value.isoformat() if isinstance(value, (dt.date, dt.time)) else str(value)
            self.problem(
                ref,
                f"{label} must be {want}, not a date ({shown}); format the cell as a number or as text",
                "date_not_allowed",
                loc,
            )
            return _MISSING
        if raw.kind == "bool":
            self.problem(ref, f"{label} must be {want}, not {str(raw.value).upper()}", "bool_not_allowed", loc)
            return _MISSING
        if raw.kind == "number":
            if numeric:
                return _whole(raw.value) if kind == "integer" else raw.value
            number = raw.value
            text = str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)
            return _SPLIT.split(text) if kind == "list" else text
        text = str(raw.value).strip()
        if not text:
            return _MISSING
        if numeric:  # a number typed as text (or read from CSV)
            value = _number(text, kind)
            if value is None:
                whole = kind == "integer"
                self.problem(
                    ref,
                    f"{label} must be {'a whole number' if whole else 'a number'}",
                    "int_parsing" if whole else "float_parsing",
                    loc,
                )
                return text  # (kept, so that the model's own complaint about it is the one suppressed)
            return value
        if kind == "list":
            return [t for t in _SPLIT.split(text) if t]
        if kind == "country":
            return text.upper()
        return text


def _number(text: str, kind: L.Kind) -> Any:
    """``text`` as the number it spells (an int for an integer column), or None if it spells none.

    A fraction in an integer column stays a float, for the model to refuse as not whole.
    """
    try:
        value = float(text)
    except ValueError:
        return None
    return _whole(value) if kind == "integer" else value


def _whole(value: float) -> Any:
    """A whole number as an int (the model's integers take no floats); any other value as it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _row_is_blank(cells: dict[int, RawCell], columns: Iterable[int]) -> bool:
    return all(cells.get(c, EMPTY).kind == "empty" for c in columns)


def _header(table: Table, out: _Collector) -> tuple[int, dict[str, int], list[tuple[int, dict[int, RawCell]]]]:
    """The header row (first non-blank row), the column of each normalised header, the rows below."""
    for k, (row, cells) in enumerate(table.rows):
        if any(c.kind != "empty" for c in cells.values()):
            columns: dict[str, int] = {}
            for col, cell in sorted(cells.items()):
                if cell.kind in ("empty",):
                    continue
                name = L.normalise_header(cell.value)
                if name in columns:
                    out.problem(
                        out.locate(table.name, row, col), f"the column '{name}' appears twice", "duplicate_column"
                    )
                    continue
                columns[name] = col
            return row, columns, table.rows[k + 1 :]
    return 0, {}, []


def _records(
    table: Table,
    key: str,
    spec: tuple[L.Column, ...],
    out: _Collector,
    suppressed: set[tuple[Any, ...]],
) -> list[dict[str, Any]]:
    header_row, columns, body = _header(table, out)
    if not columns:
        out.problem(
            table.name,
            f"the sheet {table.name} has no header row; it needs the columns "
            + ", ".join(c.header for c in spec if c.required),
            "missing_header",
        )
        suppressed.add((key,))
        return []
    for c in spec:
        if c.required and c.header not in columns:
            out.problem(
                table.name, f"missing column '{c.header}' (expected in the header row {header_row})", "missing_column"
            )
            suppressed.add((key, "*", c.header))
    if key == "suppliers":
        for name, col in columns.items():
            tier = _TIER_COLUMN.fullmatch(name)
            if tier and int(tier.group(1)) > L.MAX_TIERS:
                out.problem(
                    out.locate(table.name, header_row, col),
                    f"an offer has at most {L.MAX_TIERS} price tiers; the column '{name}' cannot be read",
                    "too_many_tiers",
                )
    known = [columns[c.header] for c in spec if c.header in columns]
    last = get_column_letter(max(known)) if known else "A"
    records: list[dict[str, Any]] = []
    for row, cells in body:
        if _row_is_blank(cells, known):
            continue  # blank rows (also in the middle of the table) are skipped; later rows are still read
        i = len(records)
        record: dict[str, Any] = {}
        out.where[(key, i)] = (f"{out.locate(table.name, row, 1)}:{last}{row}", None)
        tiers: list[tuple[int, Any, Any, str, str]] = []
        for c in spec:
            col = columns.get(c.header)
            if c.header.startswith("tier"):
                continue
            if col is None:
                continue
            loc = (key, i, c.header)
            ref = out.cell(table, row, col, loc, c.header)
            value = out.convert(cells.get(col, EMPTY), c.kind, ref, c.header, loc)
            if value is not _MISSING:
                record[c.header] = value
        if key == "suppliers":
            for n in range(1, L.MAX_TIERS + 1):
                up_col, price_col = columns.get(f"tier{n}_up_to"), columns.get(f"tier{n}_unit_price")
                up_loc, price_loc = (
                    (key, i, "price_tiers", n - 1, "up_to"),
                    (key, i, "price_tiers", n - 1, "unit_price"),
                )
                up = price = _MISSING
                up_ref = price_ref = ""
                if up_col is not None:
                    up_ref = out.cell(table, row, up_col, up_loc, f"tier{n}_up_to")
                    up = out.convert(cells.get(up_col, EMPTY), "number", up_ref, f"tier{n}_up_to", up_loc)
                if price_col is not None:
                    price_ref = out.cell(table, row, price_col, price_loc, f"tier{n}_unit_price")
                    price = out.convert(
                        cells.get(price_col, EMPTY), "number", price_ref, f"tier{n}_unit_price", price_loc
                    )
                    if n == 1:
                        out.where[(key, i, "price_tiers")] = (price_ref, "price tiers")
                tiers.append((n, up, price, up_ref, price_ref))
            given = [t for t in tiers if t[1] is not _MISSING or t[2] is not _MISSING]
            if given:
                last_n = given[-1][0]
                price_tiers: list[dict[str, Any]] = []
                for n, up, price, up_ref, price_ref in tiers[:last_n]:
                    if up is _MISSING and price is _MISSING:
                        out.problem(
                            price_ref or up_ref,
                            f"tier{n} is empty but a later tier is given; fill the tiers from tier1 on without gaps",
                            "tier_gap",
                            (key, i, "price_tiers"),
                        )
                        continue
                    tier: dict[str, Any] = {"up_to": None if up is _MISSING else up}
                    if price is not _MISSING:
                        tier["unit_price"] = price
                    price_tiers.append(tier)
                record["price_tiers"] = price_tiers
        records.append(record)
    return records


def _settings(table: Table, out: _Collector, raw: dict[str, Any]) -> None:
    names = {s.name: s for s in L.SETTINGS_ROWS}
    seen: dict[str, str] = {}
    for row, cells in table.rows:
        first = cells.get(1, EMPTY)
        if first.kind == "empty" or (first.kind == "text" and not str(first.value).strip()):
            continue
        name = L.normalise_header(first.value)
        if name in ("setting", "settings", "name"):
            continue  # the header row
        ref_name = out.locate(table.name, row, 1)
        setting = names.get(name)
        if setting is None:
            out.problem(
                ref_name, f"unknown setting '{first.value}'; the settings are " + ", ".join(names), "unknown_setting"
            )
            continue
        if name in seen:
            out.problem(ref_name, f"the setting '{name}' is given twice (first at {seen[name]})", "duplicate_setting")
            continue
        seen[name] = ref_name
        ref = out.cell(table, row, 2, setting.path, name)
        value = out.convert(cells.get(2, EMPTY), setting.kind, ref, name, setting.path)
        if value is _MISSING:
            continue
        target = raw
        for part in setting.path[:-1]:
            target = target.setdefault(part, {})
        target[setting.path[-1]] = value


def _policy(table: Table, out: _Collector) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    header_row, columns, body = _header(table, out)
    if "rule" not in columns:
        if body or columns:
            out.problem(
                table.name, f"missing column 'rule' (expected in the header row {header_row})", "missing_column"
            )
        return policy
    spec = {c.header: c for c in L.POLICY_COLUMNS}
    known = [columns[h] for h in spec if h in columns]
    tariff_rows: dict[str, str] = {}
    single_rows: dict[str, str] = {}
    for row, cells in body:
        if _row_is_blank(cells, known):
            continue
        values: dict[str, Any] = {}
        refs: dict[str, str] = {}
        for h, c in spec.items():
            col = columns.get(h)
            refs[h] = out.locate(table.name, row, col) if col else f"{table.name}!{row}:{row}"
            if col is not None:
                v = out.convert(cells.get(col, EMPTY), c.kind, refs[h], h, ("policy", "row", row, h))
                if v is not _MISSING:
                    values[h] = v
        rule = L.normalise_header(values.get("rule", ""))
        if not rule:
            out.problem(
                refs["rule"],
                "rule is required when the row has other values; use one of " + ", ".join(L.POLICY_RULES),
                "missing",
            )
            continue
        if rule not in L.POLICY_RULES:
            out.problem(
                refs["rule"],
                f"rule must be one of {', '.join(L.POLICY_RULES)} (found '{values['rule']}')",
                "unknown_rule",
            )
            continue
        countries: list[str] = [c.upper() for c in values.get("countries", [])]
        value = values.get("value", _MISSING)
        needs_value = rule != "exclude"
        if needs_value and value is _MISSING and ("policy", "row", row, "value") not in out.bad:
            out.problem(refs["value"], f"value is required for the rule {rule}", "missing")
        if rule in ("tariff", "exclude", "country_cap") and not countries:
            out.problem(refs["countries"], f"countries is required for the rule {rule}", "missing")
            continue
        if rule == "tariff":
            tariffs = policy.setdefault("tariffs", {})
            for code in countries:
                if code in tariff_rows:
                    out.problem(
                        refs["countries"],
                        f"a tariff for {code} is already given at {tariff_rows[code]}",
                        "duplicate_tariff",
                    )
                    continue
                tariff_rows[code] = refs["countries"]
                out.where[("policy", "tariffs", code)] = (refs["value"], "value")
                out.where[("policy", "tariffs", code, "[key]")] = (refs["countries"], "countries")
                # Without a rate (already reported) a placeholder still lets the country code be checked.
                tariffs[code] = 0.0 if value is _MISSING else value
        elif rule == "exclude":
            excluded = policy.setdefault("excluded_countries", [])
            for code in countries:
                out.where[("policy", "excluded_countries", len(excluded))] = (refs["countries"], "countries")
                excluded.append(code)
        elif rule == "country_cap":
            caps = policy.setdefault("country_caps", [])
            c = len(caps)
            cap: dict[str, Any] = {"countries": countries}
            out.where[("policy", "country_caps", c)] = (f"{refs['rule']}", None)
            out.where[("policy", "country_caps", c, "countries")] = (refs["countries"], "countries")
            out.where[("policy", "country_caps", c, "max_share")] = (refs["value"], "value")
            out.where[("policy", "country_caps", c, "minerals")] = (refs["minerals"], "minerals")
            if value is not _MISSING:
                cap["max_share"] = value
            else:
                out.bad.add(("policy", "country_caps", c, "max_share"))  # reported above
            if values.get("minerals"):
                cap["minerals"] = values["minerals"]
            caps.append(cap)
        else:
            if rule in single_rows:
                out.problem(
                    refs["rule"], f"the rule {rule} is given twice (first at {single_rows[rule]})", "duplicate_rule"
                )
                continue
            single_rows[rule] = refs["rule"]
            out.where[("policy", rule)] = (refs["value"], "value")
            if value is not _MISSING:
                policy[rule] = _whole(value) if rule == "max_suppliers" else value  # (the model's integer)
    return policy


_VERBS = ("must ", "this field", "needs ", "too many", "is ")


def _describe(loc: tuple[Any, ...], message: str, out: _Collector, sheets: dict[str, str]) -> tuple[str, str]:
    """(cell reference, message) for a validation error at ``loc``."""
    for k in range(len(loc), 0, -1):
        hit = out.where.get(tuple(loc[:k]))
        if hit is None:
            continue
        ref, label = hit
        rest = loc[k:]
        if rest and not (len(rest) == 1 and rest[0] == "[key]"):
            label = format_path(rest) if label is None else f"{label}.{format_path(rest)}"
        break
    else:
        ref, label = sheets.get(str(loc[0]) if loc else "", "file"), format_path(loc) if loc else None
    if label is None:
        return ref, message
    if message == "this field is required":
        return ref, f"{label} is required"
    return ref, (f"{label} {message}" if message.startswith(_VERBS) else f"{label}: {message}")


_NUMERIC_LABEL = re.compile(
    r"^(budget|time_limit_s|mip_gap|value|target|weight|min_quantity|max_quantity|max_spend|"
    r"market_price|capacity|unit_price|min_order|lot_size|fixed_cost|tier\d+_up_to|"
    r"tier\d+_unit_price)$"
)


def _suppressed(loc: tuple[Any, ...], out: _Collector, suppressed: set[tuple[Any, ...]]) -> bool:
    for k in range(1, len(loc) + 1):
        if tuple(loc[:k]) in out.bad or tuple(loc[:k]) in suppressed:
            return True
    return len(loc) >= 3 and (loc[0], "*", loc[2]) in suppressed


def build_request(
    settings: Table | None,
    minerals: Table | None,
    suppliers: Table | None,
    policy: Table | None,
    locate: Locator,
    sheet_names: dict[str, str],
    problems: list[Problem] | None = None,
) -> AllocationRequest:
    """Validate the tables as one request; raise ``InvalidRequest`` listing every problem by cell."""
    out = _Collector(locate)
    out.problems.extend(problems or [])
    suppressed: set[tuple[Any, ...]] = set()
    raw: dict[str, Any] = {}
    for table in (settings, minerals, suppliers, policy):
        if table is None:
            continue
        for ref in table.merged:
            out.problem(
                ref,
                "merged cells are not allowed in the input tables; unmerge them and fill in every cell",
                "merged_cells",
            )
        if table.too_many_rows is not None:
            out.problem(
                table.name,
                f"the sheet has more than {table.too_many_rows:,} rows; the rest was not read",
                "too_many_rows",
            )
    if settings is not None:
        _settings(settings, out, raw)
    else:
        suppressed.update({("budget",), ("objective",), ("options",)})
    for key, table, spec in (("minerals", minerals, L.MINERAL_COLUMNS), ("suppliers", suppliers, L.SUPPLIER_COLUMNS)):
        if table is None:
            suppressed.add((key,))
            if key == "minerals":
                suppressed.add(("suppliers", "*", "mineral"))
            raw[key] = []
        else:
            raw[key] = _records(table, key, spec, out, suppressed)
            if key == "minerals" and not raw[key]:  # every offer's mineral would be unknown: one problem is enough
                suppressed.add(("suppliers", "*", "mineral"))
    if policy is not None:
        raw["policy"] = _policy(policy, out)
    try:
        request = AllocationRequest.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if _suppressed(loc, out, suppressed):
                continue
            (problem,) = problems_from_errors([error])
            ref, message = _describe(loc, problem.message, out, sheet_names)
            label = message.split(" ", 1)[0]
            if (
                problem.code in ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
                and _NUMERIC_LABEL.match(label)
                and " must be " in message
            ):
                message = message.replace(" must be ", " must be a number ", 1)
            out.problems.append(Problem(path=ref, message=message, code=problem.code))
        request = None
    if out.problems or request is None:
        unique = list(dict.fromkeys(out.problems))
        raise InvalidRequest(unique)
    return request
