"""The analyses' CSV tables hold the JSON's figures, in full precision, with formula-looking text escaped."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from analyses import compare, frontier, policy_costs
from models.analyses import ComparisonRequest, FrontierRequest, PolicyCostsRequest
from models.changes import SetTariff
from service.spreadsheet import layout as L
from service.spreadsheet.csvio import (
    COMPARISON_COLUMNS,
    POLICY_COST_COLUMNS,
    comparison_csv,
    frontier_csv,
    policy_costs_csv,
)
from service.spreadsheet.safety import csv_unescape

EVIL = "=cmd|' /C calc'!A0"


def _table(text: str) -> list[dict[str, str]]:
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _num(text: str) -> float | None:
    return None if text == "" else float(text)


def test_comparison_csv_one_row_per_scenario_and_offer(dla):
    variants: list[dict[str, Any]] = [
        {"name": EVIL, "changes": [{"op": "exclude_countries", "countries": ["CN"]}]},
        {
            "name": "broke",
            "changes": [
                {"op": "set_policy", "field": "tariffs", "value": None},
                {"op": "set_mineral", "mineral": "indium", "field": "min_quantity", "value": 1e6},  # infeasible
            ],
        },
    ]
    comparison = ComparisonRequest.model_validate({"request": dla, "variants": variants})
    result = compare(comparison)
    text = comparison_csv(result)
    assert text.splitlines()[0] == ",".join(COMPARISON_COLUMNS)
    rows = _table(text)
    expected = []
    for s in result.scenarios:
        changed = {o.supplier_id: o.change for o in (s.delta.offers if s.delta else [])}
        for line in s.result.allocations or [None]:
            expected.append(
                (s.name, s.result.status.value, s.result.coverage_score, s.result.total_spend, line, changed)
            )
    assert len(rows) == len(expected)
    for row, (name, status, score, spend, line, changed) in zip(rows, expected, strict=True):
        assert csv_unescape(row["scenario"]) == name and row["status"] == status
        assert _num(row["coverage_score"]) == score and _num(row["total_spend"]) == spend  # repr: exact
        if line is None:  # a scenario that buys nothing still has its row
            assert all(row[name] == "" for name, _ in L.ALLOCATION_COLUMNS)
            continue
        assert row["supplier_id"] == line.supplier_id and _num(row["quantity"]) == line.quantity
        assert _num(row["spend"]) == line.spend
        assert _num(row["quantity_change"]) == changed.get(line.supplier_id, 0.0)
    assert result.scenarios[-1].result.status.value == "infeasible"
    assert rows[-1]["scenario"] == "broke" and rows[-1]["supplier_id"] == ""  # nothing bought, still a row
    evil_rows = [r for r in rows if r["scenario"].startswith("'")]
    assert evil_rows and all(r["scenario"] == "'" + EVIL for r in evil_rows)  # OWASP: never a formula


@pytest.mark.parametrize("points", [3, 6])
def test_frontier_csv_one_row_per_point_with_a_column_per_mineral(dla, points):
    result = frontier(FrontierRequest.model_validate({"request": dla, "from": 2e8, "to": 1.2e9, "points": points}))
    rows = _table(frontier_csv(result))
    minerals = [m["id"] for m in dla["minerals"]]
    assert list(rows[0]) == [
        "budget",
        "status",
        "coverage_score",
        "total_spend",
        "knee",
        *(f"coverage_{m}" for m in minerals),
    ]
    assert len(rows) == len(result.points) == points
    for row, p in zip(rows, result.points, strict=True):
        assert _num(row["budget"]) == p.budget and row["status"] == p.status.value
        assert _num(row["coverage_score"]) == p.coverage_score and _num(row["total_spend"]) == p.total_spend
        assert row["knee"] == ("true" if p.budget in result.knees else "false")
        assert [_num(row[f"coverage_{m.id}"]) for m in p.minerals] == [m.coverage for m in p.minerals]


def test_policy_costs_csv_base_then_each_rule_with_its_change(dla):
    result = policy_costs(PolicyCostsRequest.model_validate({"request": dla}))
    rows = _table(policy_costs_csv(result))
    assert list(rows[0]) == list(POLICY_COST_COLUMNS)
    base, rules = rows[0], rows[1:]
    assert base["rule"] == "base" and _num(base["coverage_score"]) == result.base.coverage_score
    assert [r["rule"] for r in rules] == [r.rule for r in result.rules]
    for row, rule in zip(rules, result.rules, strict=True):
        assert row["description"] == rule.description
        assert json.loads(row["change"]) == rule.change.model_dump(mode="json", exclude_none=True)
        assert _num(row["coverage_gain"]) == rule.coverage_gain and _num(row["spend_saving"]) == rule.spend_saving
    tariff = next(r for r in rules if r["rule"] == "tariffs.CN")
    assert SetTariff.model_validate_json(tariff["change"]).rate == 0  # the change reads back as a change
