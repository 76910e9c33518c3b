"""CSV for spreadsheet tools: the allocation table out, minerals/suppliers/policy tables in.

Also the analyses' tables out: ``comparison_csv``, ``frontier_csv``, ``policy_costs_csv``.

Out: one header row, the columns of ``layout.ALLOCATION_COLUMNS`` in that
order, numbers written in full precision (``repr``), text fields that a
spreadsheet would evaluate prefixed with ``'`` (OWASP).

In: the same columns as the Minerals, Suppliers and Policy sheets; problems
are reported as ``suppliers.csv!E7`` (the cell a spreadsheet shows).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from openpyxl.utils import get_column_letter

from models import AllocationRequest, AllocationResult, Problem
from models.analyses import ComparisonResult, FrontierResult, PolicyCostsResult
from service.spreadsheet import layout as L
from service.spreadsheet.reader import RawCell, Table, build_request
from service.spreadsheet.safety import csv_text, csv_unescape

CSV_MEDIA_TYPE = "text/csv"


def _field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return csv_text(str(getattr(value, "value", value)))


def allocation_csv(result: AllocationResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for name, _ in L.ALLOCATION_COLUMNS])
    for line in result.allocations:
        writer.writerow([_field(getattr(line, name)) for name, _ in L.ALLOCATION_COLUMNS])
    return out.getvalue()


def wants_csv(accept: str | None) -> bool:
    """True when the Accept header prefers text/csv to application/json (q-values honoured)."""
    return preferred(accept, (CSV_MEDIA_TYPE,)) == CSV_MEDIA_TYPE


def preferred(accept: str | None, offered: Sequence[str]) -> str:
    """Which of ``offered`` (or JSON, the default) the Accept header prefers; JSON on ties and when absent."""
    if not accept:
        return "application/json"
    best: dict[str, float] = {}
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        q = 1.0
        for p in pieces[1:]:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        best[media] = max(q, best.get(media, 0.0))

    def quality(media: str) -> float:
        kind = media.split("/")[0]
        for key in (media, f"{kind}/*", "*/*"):
            if key in best:
                return best[key]
        return 0.0

    choice, choice_q = "application/json", quality("application/json")
    for media in offered:
        q = quality(media)
        if q > 0 and q > choice_q:
            choice, choice_q = media, q
    return choice


def _table(name: str, data: bytes, max_rows: int, problems: list[Problem]) -> Table | None:
    """The file's cells; None (its problem added) when it cannot be read, so that none follow from it."""
    table = Table(name=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(Problem(path=name, message=f"{name} is not UTF-8 text; save it as CSV UTF-8", code="encoding"))
        return None
    # The delimiter is read off the header line (spreadsheets in some locales write ';'), never guessed from data.
    first = text.lstrip().split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)  # (strict: an unclosed quote is an error)
    try:
        for number, row in enumerate(reader, start=1):
            if number > max_rows:
                table.too_many_rows = max_rows
                break
            cells = {col: RawCell(csv_unescape(v), "text") for col, v in enumerate(row, start=1) if v.strip()}
            if cells:
                table.rows.append((number, cells))
    except csv.Error as exc:
        problems.append(
            Problem(path=name, message=f"{name} is not valid CSV (line {reader.line_num}: {exc})", code="csv_invalid")
        )
        return None
    return table


def read_csv_request(
    minerals: bytes,
    suppliers: bytes,
    policy: bytes | None,
    settings: dict[str, Any],
    max_rows: int,
) -> AllocationRequest:
    """Minerals, suppliers (and optionally policy) CSV files plus settings -> a validated request.

    ``settings`` holds the form fields (budget, objective, time_limit_s, mip_gap) as given.
    """
    problems: list[Problem] = []
    tables = {
        "minerals": _table("minerals.csv", minerals, max_rows, problems),
        "suppliers": _table("suppliers.csv", suppliers, max_rows, problems),
        "policy": _table("policy.csv", policy, max_rows, problems) if policy is not None else None,
    }
    settings_table = Table(name="settings")
    for row, s in enumerate(L.SETTINGS_ROWS, start=1):
        value = settings.get(s.name)
        if value is not None and str(value).strip():
            settings_table.rows.append((row, {1: RawCell(s.name, "text"), 2: RawCell(str(value), "text")}))

    def locate(sheet: str, row: int, col: int) -> str:
        if sheet == "settings":
            return "form field " + L.SETTINGS_ROWS[row - 1].name
        return f"{sheet}!{get_column_letter(col)}{row}"

    return build_request(
        settings_table,
        tables["minerals"],
        tables["suppliers"],
        tables["policy"],
        locate,
        {
            "budget": "form field budget",
            "objective": "form field objective",
            "options": "form fields",
            "minerals": "minerals.csv",
            "suppliers": "suppliers.csv",
            "policy": "policy.csv",
        },
        problems,
    )


def csv_response(result: AllocationResult) -> Any:
    """The allocation table as an HTTP response (``text/csv``, UTF-8, status in a header)."""
    from fastapi.responses import Response

    return Response(
        allocation_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"X-Stockpile-Status": result.status.value, "Content-Disposition": 'inline; filename="allocation.csv"'},
    )


# -- analyses ---------------------------------------------------------------------------------

COMPARISON_COLUMNS: tuple[str, ...] = (
    "scenario",
    "status",
    "coverage_score",
    "total_spend",
    *(name for name, _ in L.ALLOCATION_COLUMNS),
    "quantity_change",
)
POLICY_COST_COLUMNS: tuple[str, ...] = (
    "rule",
    "description",
    "change",
    "status",
    "coverage_score",
    "total_spend",
    "coverage_gain",
    "spend_saving",
)


def _writer(out: io.StringIO) -> Any:
    return csv.writer(out, lineterminator="\r\n")


def comparison_csv(result: ComparisonResult) -> str:
    """One row per scenario and offer bought in it (a scenario that buys nothing: one row without an offer).

    ``quantity_change`` is the quantity minus the base scenario's (0 for the base itself).
    """
    out = io.StringIO()
    writer = _writer(out)
    writer.writerow(COMPARISON_COLUMNS)
    for scenario in result.scenarios:
        r = scenario.result
        head = [_field(scenario.name), _field(r.status), _field(r.coverage_score), _field(r.total_spend)]
        changed = {o.supplier_id: o.change for o in (scenario.delta.offers if scenario.delta else [])}
        if not r.allocations:
            writer.writerow(head + [""] * (len(COMPARISON_COLUMNS) - len(head)))
        for line in r.allocations:
            cells = [_field(getattr(line, name)) for name, _ in L.ALLOCATION_COLUMNS]
            writer.writerow(head + cells + [_field(changed.get(line.supplier_id, 0.0))])
    return out.getvalue()


def frontier_csv(result: FrontierResult) -> str:
    """One row per point: budget, status, coverage score, total spend, ``knee`` (true/false), each mineral's coverage.

    The mineral columns are ``coverage_<id>``, in the order of the first point's minerals.
    """
    ids: list[str] = []
    for point in result.points:
        ids += [m.id for m in point.minerals if m.id not in ids]
    knees = set(result.knees)
    out = io.StringIO()
    writer = _writer(out)
    writer.writerow(
        ["budget", "status", "coverage_score", "total_spend", "knee", *(csv_text(f"coverage_{i}") for i in ids)]
    )
    for p in result.points:
        coverage = {m.id: m.coverage for m in p.minerals}
        writer.writerow(
            [
                _field(p.budget),
                _field(p.status),
                _field(p.coverage_score),
                _field(p.total_spend),
                _field(p.budget in knees),
                *(_field(coverage.get(i)) for i in ids),
            ]
        )
    return out.getvalue()


def policy_costs_csv(result: PolicyCostsResult) -> str:
    """One row per rule in force, most costly first, after a ``base`` row (the request as given).

    ``change`` is the change that lifts the rule, as JSON; the figures are the base's with it applied.
    """
    out = io.StringIO()
    writer = _writer(out)
    writer.writerow(POLICY_COST_COLUMNS)
    base = result.base
    writer.writerow(
        ["base", "the request as given", "", _field(base.status), _field(base.coverage_score), _field(base.total_spend)]
        + ["", ""]
    )
    for rule in result.rules:
        change = json.dumps(rule.change.model_dump(mode="json", exclude_none=True), separators=(",", ":"))
        writer.writerow(
            [
                _field(rule.rule),
                _field(rule.description),
                csv_text(change),
                _field(rule.status),
                _field(rule.coverage_score),
                _field(rule.total_spend),
                _field(rule.coverage_gain),
                _field(rule.spend_saving),
            ]
        )
    return out.getvalue()
