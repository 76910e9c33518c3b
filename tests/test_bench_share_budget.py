"""bench.share_budget: the 10% overhead budget per instance, and Pyomo's floor (a benchmark tool)."""

from __future__ import annotations

import gc
import json

import numpy as np
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


def test_the_floor_is_a_bare_model_of_the_engines_matrix_entry_for_entry():
    from bench.instances import named
    from solvers.build import create_model
    from solvers.highs import compile_model
    from solvers.linear_form import read_linear_form
    from solvers.prepare import prepare

    engine = compile_model(create_model(prepare(named("10x50-min_cost", 1).request)))
    bare = read_linear_form(share_budget.bare_model(share_budget.matrix_of("10x50-min_cost", 1)))
    assert bare is not None
    assert bare.A.shape == engine.matrix.shape
    assert np.array_equal(bare.A.indptr, engine.matrix.indptr)
    assert np.array_equal(bare.A.indices, engine.matrix.indices)
    assert np.array_equal(bare.A.data, engine.matrix.data)
    build, read = share_budget.floor_seconds("dla-2025", 1, reps=1)
    assert build > 0 and read > 0


def test_the_collector_is_left_as_it_was(tmp_path):
    (tmp_path / "empty.json").write_text(json.dumps({"seed": 1, "command": "x", "results": []}))
    gc.disable()
    try:
        share_budget.main([str(tmp_path / "empty.json")])
        assert not gc.isenabled()
    finally:
        gc.enable()
    share_budget.main([str(tmp_path / "empty.json")])
    assert gc.isenabled()
