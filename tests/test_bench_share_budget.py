"""bench.share_budget: the 10% overhead budget per instance, and Pyomo's floor (a benchmark tool)."""

from __future__ import annotations

import json

import pytest

from bench import share_budget


def test_a_ten_percent_share_allows_a_ninth_of_the_solver_time_outside_it():
    assert share_budget.budget(0.9) == pytest.approx(0.1)
    overhead = share_budget.budget(0.45)
    assert overhead / (overhead + 0.45) == pytest.approx(share_budget.SHARE)


def test_the_table_lists_each_seed_of_each_case_from_500_offers(tmp_path, capsys):
    def entry(case: str, offers: int, solver: float, overhead: float) -> dict:
        engine = {"median_solver_s": solver, "median_overhead_s": overhead}
        return {"case": case, "offers": offers, "contenders": {"engine": engine, "highs": {"median_overhead_s": 0.005}}}

    for seed, solver in ((1, 0.27), (2, 0.9)):
        run = {
            "seed": seed,
            "when": f"2026-11-27 1{seed}:00",
            "command": "python -m bench.run",
            "results": [entry("5x20-min_cost", 100, 0.05, 0.01), entry("10x50-min_cost", 500, solver, 0.024)],
        }
        (tmp_path / f"seed{seed}.json").write_text(json.dumps(run))
    assert share_budget.main([str(p) for p in sorted(tmp_path.glob("*.json"))]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 10x50")]
    assert rows == ["| 10x50-min_cost | 1 | 0.270 | 30 | 24 | 5 |", "| 10x50-min_cost | 2 | 0.900 | 100 | 24 | 5 |"]


def test_the_floor_is_a_bare_model_of_the_engines_matrix_that_its_reader_reads():
    build, read = share_budget.floor_seconds("dla-2025", 1, reps=1)
    assert build > 0 and read > 0
