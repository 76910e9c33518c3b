"""The what-if commands: stockpile compare, frontier and policy-costs (files written, tables, problems, exit codes)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest

from models import AllocationRequest
from models.analyses import ComparisonResult, FrontierResult, PolicyCostsResult
from models.changes import apply_changes
from service import examples
from service.analyses_cli import _executor
from service.cli import main
from service.spreadsheet import template_bytes
from solvers import check_result

STOCKPILE = [sys.executable, "-m", "service.cli"]
DLA = examples.catalogue()["dla-2025"]["request"]
VARIANTS: list[dict[str, Any]] = [
    {"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]},
    {"name": "dear-cobalt", "changes": [{"op": "scale_prices", "mineral": "cobalt", "factor": 1.5}]},
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*STOCKPILE, *args], capture_output=True, text=True, timeout=300, check=False)


def test_compare_prints_tables_and_writes_json_whose_answers_check(tmp_path: Path):
    variants, out = tmp_path / "variants.json", tmp_path / "comparison.json"
    variants.write_text(json.dumps(VARIANTS))
    done = run("compare", "--example", "dla-2025", "--variants", str(variants), "-o", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["scenario", "status", "coverage"]
    assert [line.split()[0] for line in lines[2:5]] == ["base", "no-china", "dear-cobalt"]
    assert "exclude CN" in done.stdout and "mineral" in done.stdout
    result = ComparisonResult.model_validate_json(out.read_text())
    base = AllocationRequest.model_validate(DLA)
    for scenario in result.scenarios:
        changed = apply_changes(base, scenario.changes).request
        assert check_result(changed, scenario.result) == []  # each answer is its own changed request's
    assert result.scenarios[1].delta is not None and result.scenarios[1].delta.coverage_score < 0


def test_compare_a_comparison_request_file_to_csv(tmp_path: Path, capsys):
    path, out = tmp_path / "comparison.json", tmp_path / "comparison.csv"
    path.write_text(json.dumps({"request": DLA, "variants": VARIANTS}))
    assert main(["compare", str(path), "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert {r["scenario"] for r in rows} == {"base", "no-china", "dear-cobalt"}
    assert not [r for r in rows if r["scenario"] == "no-china" and r["country"] == "CN"]  # CN excluded there
    assert "no-china" in capsys.readouterr().out


def test_compare_a_workbook_uses_its_scenarios_sheet_and_writes_the_comparison_workbook(tmp_path: Path, capsys):
    book, out = tmp_path / "allocation.xlsx", tmp_path / "comparison.xlsx"
    book.write_bytes(template_bytes())
    assert main(["compare", str(book), "-o", str(out), "--json"]) == 0
    result = ComparisonResult.model_validate_json(capsys.readouterr().out)  # --json: nothing but JSON
    assert [s.name for s in result.scenarios] == ["base", "no-china", "no-tariff"]
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Scenario summary", "Allocations", "Minerals"]
    scores = [row[2] for row in wb["Scenario summary"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert scores == [s.result.coverage_score for s in result.scenarios]


def test_frontier_writes_the_chart_and_prints_one_row_per_budget(tmp_path: Path, capsys):
    out = tmp_path / "frontier.svg"
    code = main(
        ["frontier", "--example", "dla-2025", "--from", "2e8", "--to", "1.2e9", "--points", "4", "-o", str(out)]
    )
    assert code == 0
    ElementTree.parse(out)  # a well-formed SVG
    assert "budget ($M)" in out.read_text()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["budget", "$M", "status"]
    assert [line.split()[0] for line in lines[2:6]] == ["200.0", "533.3", "866.7", "1,200.0"]


def test_frontier_at_given_budgets_to_json(tmp_path: Path):
    out = tmp_path / "frontier.json"
    assert main(["frontier", "--example", "dla-2025", "--budgets", "9e8,3e8,6e8", "-o", str(out)]) == 0
    result = FrontierResult.model_validate_json(out.read_text())
    assert [p.budget for p in result.points] == [3e8, 6e8, 9e8]
    scores = [p.coverage_score for p in result.points]
    assert scores == sorted(scores)  # more money never buys less coverage


def test_policy_costs_to_json_and_a_table(tmp_path: Path, capsys):
    out = tmp_path / "costs.json"
    assert main(["policy-costs", "--example", "dla-2025", "-o", str(out)]) == 0
    result = PolicyCostsResult.model_validate_json(out.read_text())
    assert "tariffs.CN" in [r.rule for r in result.rules]
    text = capsys.readouterr().out
    assert text.startswith("base: optimal") and "tariffs.CN" in text and "the 100% tariff on CN" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["compare", "--example", "dla-2025", "--variants", "{variants}"],
            "variants[0].changes[0].supplier: no offer matches supplier 'nope'",
        ),
        (
            ["frontier", "--example", "dla-2025", "--from", "1", "--to", "2", "--points", "500"],
            "points: must be <= 101",
        ),
        (["frontier", "--example", "dla-2025", "--from", "5", "--to", "2", "--points", "3"], "to: must be larger"),
        (["frontier", "--example", "dla-2025"], "give budgets, or from, to and points"),
        (["frontier", "--example", "dla-2025", "--budgets", "1e8,lots"], "--budgets 1e8,lots: give numbers"),
        (["compare", "--example", "dla-2025"], "give the variants"),
        (["policy-costs", "{bad_request}"], "budget: must be > 0"),
    ],
)
def test_bad_input_lists_its_problems_and_exits_2(tmp_path: Path, capsys, args, expected):
    variants = tmp_path / "variants.json"
    variants.write_text(
        json.dumps([{"name": "x", "changes": [{"op": "scale_capacity", "supplier": "nope", "factor": 2}]}])
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"request": {**DLA, "budget": -1}}))
    argv = [a.format(variants=variants, bad_request=bad) for a in args]
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_an_output_the_command_cannot_write_is_refused_before_solving(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["policy-costs", "--example", "dla-2025", "-o", "costs.svg"])
    assert caught.value.code == 2
    assert "give a file name ending in .json, .csv" in capsys.readouterr().err


def test_scheduler_address_selects_the_dask_executor():
    from analyses import DaskExecutor, LocalExecutor

    assert isinstance(_executor(None), LocalExecutor)
    remote = _executor("tcp://127.0.0.1:8786")
    assert isinstance(remote, DaskExecutor) and remote.address == "tcp://127.0.0.1:8786"
    remote.close()  # (never connected: nothing to stop)


def test_solve_a_workbook_with_scenarios_writes_their_comparison_too(tmp_path: Path):
    book, out = tmp_path / "allocation.xlsx", tmp_path / "result.xlsx"
    book.write_bytes(template_bytes())
    assert main(["solve", str(book), "-o", str(out)]) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[-3:] == ["Scenario summary", "Scenario allocations", "Scenario minerals"]
    names = [row[0] for row in wb["Scenario summary"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert names == ["base", "no-china", "no-tariff"]
