"""What the engine answers when a limit stops HiGHS."""

from __future__ import annotations

import pytest

from models import AllocationRequest, Status
from solvers import allocate, check_result
from solvers import engine as engine_module
from solvers.solve.highs import SolveOutcome, SolveState
from solvers.tuning import EngineTuning
from tests.builders import mineral, offer, request
from tests.fakes import fake_run, stopped
from tests.reliability.stress_instances import generated_request


def hard_request(time_limit_s: float) -> AllocationRequest:
    body = generated_request(20, 15, seed=1, hard=True)
    body["options"] = {"time_limit_s": time_limit_s, "mip_gap": 0}
    return AllocationRequest.model_validate(body)


def test_a_time_limit_returns_a_checked_feasible_allocation():
    # Without floors an empty purchase is feasible, so the engine always has an allocation in hand.
    req = hard_request(0.5)
    result = allocate(req)
    assert result.status is Status.FEASIBLE
    assert check_result(req, result) == []
    assert result.mip_gap is None or 0 <= result.mip_gap <= 1
    if result.best_bound is not None:
        assert result.best_bound >= result.coverage_score - 1e-9


def test_no_solution_when_the_limit_comes_first(monkeypatch):
    def every_run_stopped(compiled, options, time_left, start=None, watch=None):
        return stopped(time_left)

    monkeypatch.setattr(engine_module, "solve", every_run_stopped)
    req = request(1e6, [mineral(target=10, min_quantity=5)], [offer("a", 10, 100)])
    # without the construction heuristic (tests/solvers/test_heuristic.py: with it, its allocation)
    result = allocate(req, EngineTuning(construct=False))
    assert result.status is Status.NO_SOLUTION
    assert result.allocations == []
    assert result.coverage_score is None and result.objective_value is None
    assert check_result(req, result) == []
    (finding,) = result.diagnostics
    assert finding.code == "stopped_without_solution"
    assert "Time limit reached" in finding.message and "options.time_limit_s" in finding.message


def test_highs_out_of_memory_before_any_allocation_is_out_of_memory(monkeypatch):
    # As when Python's own allocations fail: a worker at its memory cap answers "model too
    # large" (422) and starts afresh, whichever of the two ran out first.
    def out_of_memory(compiled, options, time_left, start=None, watch=None):
        return SolveOutcome(SolveState.LIMIT_NO_SOLUTION, None, None, None, 0.1, None, "Memory limit reached")

    monkeypatch.setattr(engine_module, "solve", out_of_memory)
    req = request(1e6, [mineral(target=10, min_quantity=5)], [offer("a", 10, 100)])
    with pytest.raises(MemoryError, match="Memory limit reached"):
        allocate(req)


def test_stage_two_out_of_time_keeps_stage_one_as_feasible(monkeypatch):
    # Stage one proves the best score; stage two (least spend) gets no time: the answer is
    # stage one's allocation, valid but not proven cheapest, so 'feasible'.
    calls = fake_run(monkeypatch, engine_module, 2, lambda compiled: stopped())
    req = request(10_000, [mineral(target=50)], [offer("a", 10, 500), offer("b", 20, 500)])
    result = allocate(req)
    assert len(calls) == 2
    assert result.status is Status.FEASIBLE
    assert result.coverage_score == 1
    assert check_result(req, result) == []
    assert any(f.code == "least_spend_not_proven" for f in result.diagnostics)


def test_stage_two_retries_a_numerically_infeasible_score_row(monkeypatch):
    # HiGHS may call the tight score row infeasible (a rounding hair); a wider slack is tried.
    infeasible = SolveOutcome(SolveState.INFEASIBLE, None, None, None, 0.0, None, "Infeasible")
    calls = fake_run(monkeypatch, engine_module, 2, lambda compiled: infeasible)
    req = request(10_000, [mineral(target=50)], [offer("a", 10, 500), offer("b", 20, 500)])
    result = allocate(req)
    assert len(calls) == 3
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(500, rel=1e-6)  # 50 t at $10, the least spend
    assert not any(f.code == "least_spend_not_proven" for f in result.diagnostics)


def test_a_stale_warm_start_with_no_time_left_still_answers_with_the_start(monkeypatch):
    # HiGHS 1.16 can report an improved objective with the start's column values. With
    # time left the stage is solved again; with none, the start (here: buying nothing,
    # the trivial start of a request without floors) must still come back as an
    # allocation at its own objective, not be dropped.
    import solvers.solve.highs as highs_module

    real = highs_module._outcome

    def stale(h, compiled, mip, seconds):
        out = real(h, compiled, mip, seconds)
        # The start's values (all zero), reported with a better objective, after the limit.
        return SolveOutcome(SolveState.OPTIMAL, 0.5, 0.5, 0.0, 1e9, out.values * 0, "Optimal")

    monkeypatch.setattr(highs_module, "_outcome", stale)
    req = request(10_000, [mineral(target=50)], [offer("a", 10, 500, fixed_cost=5.0), offer("b", 20, 500)])
    result = allocate(req, EngineTuning(construct=False))  # the trivial start, not the heuristic's
    assert result.status is Status.FEASIBLE
    assert result.total_spend == 0 and result.coverage_score == 0
    assert check_result(req, result) == []
