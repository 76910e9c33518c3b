"""bench.decompose: the min_cost cases it measures, and its table."""

from __future__ import annotations

from bench.decompose import cases, table


def test_only_min_cost_cases_of_each_seed_are_measured():
    found = cases("set", (1, 2), largest=500)
    assert [c.name for c in found] == ["5x20-min_cost-s1", "10x50-min_cost-s1", "5x20-min_cost-s2", "10x50-min_cost-s2"]
    assert found[0].body != found[2].body  # each seed's own request
    assert {c.objective for c in cases("hard", (1,), largest=100)} == {"min_cost"}


def _row(offers: int, whole_s: float, split_s: float, diff: float | None, status: str = "optimal") -> dict:
    return {
        "offers": offers,
        "whole_s": whole_s,
        "split_s": split_s,
        "whole_status": status,
        "split_status": "optimal",
        "spend_diff": diff,
    }


def test_the_table_gives_geometric_means_and_how_the_spends_compare():
    rows = [_row(100, 1.0, 0.25, 0.0), _row(100, 4.0, 1.0, -0.002, status="feasible"), _row(100, 1.0, 1.0, None)]
    line = next(r for r in table(rows).splitlines() if r.startswith("| 100 |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "3"
    assert cells[2] == "1.587" and cells[3] == "0.630"  # (1 x 4 x 1)^(1/3), (0.25 x 1 x 1)^(1/3)
    assert cells[4] == "0.40x"
    assert cells[5] == "2, 3"  # proven by the whole model, by the split
    assert cells[6] == "1 same, 1 lower, 0 higher (worst +0.000%), 1 without both"
