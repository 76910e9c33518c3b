"""The Scenarios sheet -> the variants of a comparison (``models.changes.Variant``).

One change per row (``scenario``, ``op``, ``mineral``, ``supplier``, ``country``,
``field``, ``value``); the rows of one scenario, in sheet order, are its changes, and
scenarios come in the order of their first row. ``value`` is read for its op: a number
for budgets, factors, rates and mineral fields; country codes separated by commas for
``exclude_countries`` and ``excluded_countries``; ``CN: 1, ID: 0.1`` for ``tariffs``;
JSON as in the API for ``country_caps`` (or any value that starts with ``[`` or ``{``);
blank for "remove". Every problem, in a cell or found when the changes are applied to
the request, is reported against its cell (``Scenarios!G5``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from models import AllocationRequest, Problem, format_path, problems_from_errors
from models.analyses import ComparisonRequest
from models.changes import Variant
from service.spreadsheet import layout as L
from service.spreadsheet.reader import _MISSING, EMPTY, RawCell, Table, _Collector, _header, _row_is_blank

_VARIANTS = TypeAdapter(list[Variant])
_PAIR = re.compile(r"^\s*([A-Za-z]{2})\s*[:=]\s*(\S+)\s*$")
_LIST_FIELDS = ("excluded_countries",)


def _value(raw: RawCell, op: str, field: str | None, ref: str, out: _Collector, loc: tuple[Any, ...]) -> Any:
    """The ``value`` cell for ``op`` (``_MISSING`` when blank or reported)."""
    if raw.kind == "number":
        if op == "exclude_countries" or field in _LIST_FIELDS:
            return [str(raw.value)]  # (not a country code: the model says so)
        if field == "max_suppliers" and isinstance(raw.value, float) and raw.value.is_integer():
            return int(raw.value)
        return raw.value
    text_kind = "list" if op == "exclude_countries" or field in _LIST_FIELDS else "text"
    value = out.convert(raw, text_kind, ref, "value", loc)
    if value is _MISSING or not isinstance(value, str):
        return [v.upper() for v in value] if isinstance(value, list) else value
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError as exc:
            out.problem(ref, f"value is not valid JSON ({exc})", "json_invalid", loc)
            return _MISSING
    if field == "tariffs":
        tariffs: dict[str, Any] = {}
        for part in text.split(","):
            if not part.strip():
                continue
            pair = _PAIR.match(part)
            if pair is None:
                out.problem(ref, f"value: write tariffs as CN: 1, ID: 0.1 (found '{part.strip()}')", "tariffs", loc)
                return _MISSING
            code, rate = pair.group(1).upper(), pair.group(2)
            try:
                tariffs[code] = float(rate.rstrip("%")) / (100 if rate.endswith("%") else 1)
            except ValueError:
                out.problem(ref, f"value: the tariff rate for {code} must be a number", "float_parsing", loc)
                return _MISSING
        return tariffs
    try:
        number = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        return text  # the model says what it should have been
    return int(number) if field == "max_suppliers" and number.is_integer() else number


def read_scenarios(
    table: Table, out: _Collector, request: AllocationRequest | None, problems: list[Problem]
) -> list[Variant]:
    """The variants on ``table``; every problem is added to ``problems`` (none: the variants apply to ``request``).

    Without a ``request`` (the other sheets had problems) each change is still checked on its own.
    """
    header_row, columns, body = _header(table, out)
    if not columns:
        return []
    for c in L.SCENARIO_COLUMNS:
        if c.required and c.header not in columns:
            out.problem(
                table.name, f"missing column '{c.header}' (expected in the header row {header_row})", "missing_column"
            )
            return []
    known = [columns[c.header] for c in L.SCENARIO_COLUMNS if c.header in columns]
    names: dict[str, int] = {}
    variants: list[dict[str, Any]] = []
    cells: dict[tuple[int, int], dict[str, str]] = {}  # (variant, change) -> key -> cell reference
    first_cell: dict[int, str] = {}
    for row, raw_cells in body:
        if _row_is_blank(raw_cells, known):
            continue
        values: dict[str, Any] = {}
        refs: dict[str, str] = {}
        for c in L.SCENARIO_COLUMNS:
            col = columns.get(c.header)
            if col is None:
                continue
            refs[c.header] = out.locate(table.name, row, col)
            if c.header == "value":
                continue
            v = out.convert(raw_cells.get(col, EMPTY), c.kind, refs[c.header], c.header, ("scenarios", row, c.header))
            if v is not _MISSING:
                values[c.header] = v
        name = values.pop("scenario", None)
        if name is None:
            out.problem(refs["scenario"], "scenario is required when the row has a change", "missing")
            continue
        op = L.normalise_header(values.get("op", ""))
        if not op:
            out.problem(refs["op"], "op is required; use one of " + ", ".join(L.SCENARIO_OPS), "missing")
            continue
        values["op"] = op
        field = values.get("field")
        value_ref = refs.get("value", refs["op"])
        refs["factor"] = refs["rate"] = refs["countries"] = value_ref
        if "value" in columns:
            value = _value(
                raw_cells.get(columns["value"], EMPTY), op, field, value_ref, out, ("scenarios", row, "value")
            )
            if op == "exclude_countries" and "country" in values:
                values["countries"] = [values.pop("country")] + ([] if value is _MISSING else list(value))
                if value is _MISSING:
                    refs["countries"] = refs["country"]
            elif value is not _MISSING:
                values[L.SCENARIO_VALUE_KEYS.get(op, "value")] = value
            elif op in ("set_mineral", "set_policy"):
                values["value"] = None  # blank: remove the field or rule
        if any(("scenarios", row, h) in out.bad for h in refs):
            continue  # the row's problems are reported; the model would only repeat them
        v = names.setdefault(name, len(names))
        if v == len(variants):
            variants.append({"name": name, "changes": []})
            first_cell[v] = refs["scenario"]
        cells[(v, len(variants[v]["changes"]))] = refs
        variants[v]["changes"].append(values)

    def where(loc: tuple[Any, ...]) -> tuple[str, str]:
        """(cell, label) of a model error at ``loc`` = (variant, 'changes', change, [op tag], key, ...)."""
        v = loc[0] if loc and isinstance(loc[0], int) else None
        if v is None or len(loc) < 2 or loc[1] != "changes" or len(loc) < 3:
            return first_cell.get(v, table.name) if v is not None else table.name, "scenario"
        refs = cells.get((v, loc[2]), {})
        rest = list(loc[3:])
        if rest and rest[0] in L.SCENARIO_OPS:
            rest = rest[1:]
        if not rest:
            return refs.get("op", table.name), "op"
        key = str(rest[0])
        label = "value" if key in ("factor", "rate", "countries") else key
        ref = refs.get(key) or refs.get("op", table.name)
        return ref, format_path((label, *rest[1:]))

    if not variants:
        return []

    def report(exc: ValidationError, index: list[int]) -> None:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            loc = loc[1:] if loc and loc[0] == "variants" else loc
            if loc and isinstance(loc[0], int):
                loc = (index[loc[0]], *loc[1:])
            (problem,) = problems_from_errors([error])
            ref, label = where(loc)
            message = problem.message
            if problem.code == "union_tag_invalid":
                message = "op must be one of " + ", ".join(L.SCENARIO_OPS)
            elif problem.code == "extra_forbidden":
                message = f"{label} is not used by this op; leave it blank"
            else:
                message = f"{label} {message}" if message.startswith(("must ", "is ")) else f"{label}: {message}"
            problems.append(Problem(path=ref, message=message, code=problem.code))

    # Each variant's changes on their own first, then those that pass against the request (names,
    # filters, minerals): every problem at once, not only the first kind found.
    valid: list[int] = []
    for v, variant in enumerate(variants):
        try:
            _VARIANTS.validate_python([variant])
            valid.append(v)
        except ValidationError as exc:
            report(exc, [v])
    if request is None or not valid:
        return []
    try:
        checked = ComparisonRequest.model_validate({"request": request, "variants": [variants[v] for v in valid]})
    except ValidationError as exc:
        report(exc, valid)
        return []
    if len(valid) < len(variants):
        return []
    return list(checked.variants)
