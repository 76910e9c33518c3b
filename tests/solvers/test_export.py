"""``solvers.write_model``: Pyomo's own LP file of the engine's model loads in HiGHS and has the same optimum."""

from __future__ import annotations

import highspy
import pytest

from service.examples import example_request
from solvers import allocate, write_model
from tests import builders


def solve_lp(path) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)  # as the engine's runs: HiGHS's thread pool is process-wide
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    return h


def test_the_written_max_coverage_model_has_the_engines_best_score(tmp_path):
    request = example_request("dla-2025")
    result = allocate(request)
    write_model(request, tmp_path / "model.lp")
    h = solve_lp(tmp_path / "model.lp")
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(result.coverage_score, abs=1e-6)


@pytest.mark.parametrize("budget", [5_000.0, 100.0])
def test_the_written_min_cost_model_is_feasible_exactly_when_the_engine_says(tmp_path, budget):
    request = builders.request(
        budget,
        [builders.mineral("co", 50), builders.mineral("sb", 20)],
        [builders.offer("a", 10.0, 40), builders.offer("b", 12.0, 30), builders.offer("c", 20.0, 25, mineral="sb")],
        objective="min_cost",
    )
    result = allocate(request)
    write_model(request, tmp_path / "model.lp")
    h = solve_lp(tmp_path / "model.lp")
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert optimal == (result.status.value == "optimal")
    assert optimal == (budget > 1_000)  # 50 t of cobalt costs at least 520: 100 is too little
