"""Single steps of a solve through the public API (``solvers/parts.py``): each agrees with what ``allocate`` does."""

from __future__ import annotations

from typing import Any

import highspy
import pytest

from models import Objective, Status
from solvers import (
    EngineTuning,
    allocate,
    check_result,
    construct_allocation,
    heuristic_mip_s,
    program_of,
    result_for,
    set_tracer,
)
from tests.builders import every_kind_of_offer


@pytest.mark.parametrize("objective", ["max_coverage", "min_cost"])
def test_result_for_the_engine_s_quantities_is_the_engine_s_result(objective: str) -> None:
    req = every_kind_of_offer(objective)
    solved = allocate(req)
    bought = {line.supplier_id: line.quantity for line in solved.allocations}
    quantities = [bought.get(o.id, 0.0) for o in req.suppliers]
    again = result_for(req, quantities, Status.OPTIMAL)
    assert again.status is Status.OPTIMAL and not check_result(req, again)
    assert again.total_spend == pytest.approx(solved.total_spend, rel=1e-12)
    if solved.coverage_score is None:  # min_cost reports none
        assert again.coverage_score is None
    else:
        assert again.coverage_score == pytest.approx(solved.coverage_score, rel=1e-12)
    assert [(x.supplier_id, x.quantity) for x in again.allocations] == [
        (x.supplier_id, x.quantity) for x in solved.allocations
    ]


def test_result_for_reports_what_quantities_break() -> None:
    req = every_kind_of_offer()
    too_much = [1e6] * len(req.suppliers)  # beyond every capacity and the budget
    assert check_result(req, result_for(req, too_much))


def test_construct_allocation_gives_a_checked_allocation_and_its_time() -> None:
    req = every_kind_of_offer()
    made = construct_allocation(req)
    result = made.result
    assert result is not None and result.allocations and not check_result(req, result)
    assert result.status is Status.FEASIBLE
    assert 0 < made.seconds < 60 and made.blocked is None


def test_heuristic_mip_s_is_half_the_reserve_a_solve_keeps_and_never_nothing() -> None:
    assert heuristic_mip_s(5.0) == pytest.approx(0.15)  # 6% of 5 s, halved
    assert heuristic_mip_s(100.0) == pytest.approx(0.5)  # the reserve's 1 s cap, halved
    assert heuristic_mip_s(0.1) == 0.05


def _traced(req) -> list[tuple[str, str, dict[str, Any]]]:
    events: list[tuple[str, str, dict[str, Any]]] = []
    previous = set_tracer(lambda kind, name, info: events.append((kind, name, info)))
    try:
        allocate(req, EngineTuning(construct=False))
    finally:
        set_tracer(previous)
    return events


@pytest.mark.parametrize("objective", ["max_coverage", "min_cost"])
def test_the_program_is_the_model_the_engine_hands_highs(objective: str) -> None:
    req = every_kind_of_offer(objective)
    events = _traced(req)
    compiled = next(info for kind, name, info in events if name == "compiled")
    # stage one's answer: the whole model's first run, or the parts' if it was split (solvers/solve/blocks.py)
    answer = "blocks_answer" if any(name == "blocks_answer" for _, name, _ in events) else "highs_answer"
    first = next(info for kind, name, info in events if name == answer)
    program = program_of(req)
    assert (program.columns, program.rows) == (compiled["columns"], compiled["rows"])
    assert program.must_buy is (req.objective is Objective.MIN_COST)  # targets are floors under min_cost
    h = highspy.Highs()
    options = EngineTuning(mip_gap=0.0).for_request(req).for_model(req.objective, guided=False)
    program.load(h, options.highs(30.0))
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    value = program.sign * h.getInfo().objective_function_value
    assert value == pytest.approx(first["objective"], rel=1e-3, abs=1e-9)
