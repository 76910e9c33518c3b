"""Provisional answers: checked allocations ``allocate`` reports before its final one."""

from __future__ import annotations

import logging

import pytest

from models import AllocationResult, Status
from solvers import allocate, check_result, engine
from solvers.solve import guide
from solvers.tuning import EngineTuning
from tests.builders import mineral, offer, request

# report every provisional answer, however quick the solve; the heuristic's, reported first, is
# left out but where a test says otherwise (it would hide the answers that are no better)
EVERY = EngineTuning(provisional_after_s=0.0, construct=False)


def _collect() -> tuple[list[AllocationResult], object]:
    seen: list[AllocationResult] = []
    return seen, seen.append


def _two_stage_request():
    # 50 t wanted, two offers; stage one may buy from either, stage two finds the $10 one.
    return request(10_000, [mineral(target=50)], [offer("dear", 20, 500), offer("cheap", 10, 500)])


def test_max_coverage_reports_stage_ones_checked_allocation_before_the_final_one():
    req = _two_stage_request()
    seen, keep = _collect()
    final = allocate(req, EVERY, on_provisional=keep)
    (provisional,) = seen
    assert provisional.status is Status.FEASIBLE
    assert check_result(req, provisional) == []
    assert provisional.coverage_score == pytest.approx(final.coverage_score)
    assert provisional.total_spend >= final.total_spend - 1e-9
    assert "least_spend_not_proven" in [f.code for f in provisional.diagnostics]
    assert final.status is Status.OPTIMAL
    assert final.total_spend == pytest.approx(500)


def test_a_quick_solve_reports_no_provisional_answer():
    seen, keep = _collect()
    result = allocate(
        _two_stage_request(), EngineTuning(provisional_after_s=60.0, construct=False), on_provisional=keep
    )
    assert result.status is Status.OPTIMAL
    assert seen == []


def test_the_heuristics_allocation_is_not_reported_as_provisional():
    # a server that stops a solve (a model too large for its worker, a second SIGTERM) answers
    # as it did without it: 422, 503; the heuristic's allocation is the engine's own fallback
    seen, keep = _collect()
    req = _two_stage_request()
    result = allocate(req, EngineTuning(provisional_after_s=0.0, construct_min_offers=0), on_provisional=keep)
    assert result.status is Status.OPTIMAL
    assert seen and all("heuristic_allocation" not in [f.code for f in p.diagnostics] for p in seen)


def test_a_quick_solve_reports_not_even_the_heuristics_allocation():
    # a server's answer to a request whose model does not fit its worker stays "model too large"
    seen, keep = _collect()
    result = allocate(
        _two_stage_request(), EngineTuning(provisional_after_s=60.0, construct_min_offers=0), on_provisional=keep
    )
    assert result.status is Status.OPTIMAL
    assert seen == []


def test_a_single_stage_solve_has_nothing_provisional_to_report():
    req = request(10_000, [mineral(target=50, min_quantity=50)], [offer("a", 20, 500)], objective="min_cost")
    seen, keep = _collect()
    assert allocate(req, EVERY, on_provisional=keep).status is Status.OPTIMAL
    assert seen == []


def test_the_guided_solve_reports_its_restricted_answer_before_the_full_model_improves_on_it(monkeypatch):
    # Restricted to "dear" (12/t, no fixed cost) the answer costs 1,200; the LP bound is 1,050
    # (100 t from "cheap" at 10/t plus its 50 fixed cost), and the full model finds it.
    req = request(
        budget=5_000,
        minerals=[mineral("co", 100.0, min_quantity=100.0)],
        suppliers=[offer("cheap", 10.0, fixed_cost=50.0), offer("dear", 12.0)],
        objective="min_cost",
    )
    monkeypatch.setattr(guide, "used_offers", lambda owners, values: {1})
    monkeypatch.setattr(engine, "cheapest_offers", lambda instance: frozenset())
    seen, keep = _collect()
    final = allocate(
        req, EngineTuning(guide_min_integers=0, provisional_after_s=0.0, construct=False), on_provisional=keep
    )
    (provisional,) = seen
    assert provisional.status is Status.FEASIBLE
    assert check_result(req, provisional) == []
    assert provisional.total_spend == pytest.approx(1_200.0)
    assert provisional.best_bound == pytest.approx(1_050.0)
    assert provisional.mip_gap == pytest.approx(150.0 / 1_200.0)
    assert final.status is Status.OPTIMAL
    assert final.total_spend == pytest.approx(1_050.0)


def test_a_provisional_answer_loaded_mid_stage_leaves_the_final_answer_unchanged(monkeypatch):
    # Guided, restricted to "dear": stage one's restricted answer (50 t from dear) is proven by the
    # LP; stage two's restricted answer spends 1,000 against an LP bound of about 500, so the full
    # model runs after that answer was loaded into the model for reporting. The final answer
    # must be the same with and without reporting: 50 t from "cheap" for $500 plus its $1 fixed cost.
    req = request(10_000, [mineral(target=50)], [offer("dear", 20, 500), offer("cheap", 10, 500, fixed_cost=1.0)])
    monkeypatch.setattr(guide, "used_offers", lambda owners, values: {0})
    monkeypatch.setattr(engine, "cheapest_offers", lambda instance: frozenset())
    options = EngineTuning(guide_min_integers=0, provisional_after_s=0.0, construct=False)
    seen, keep = _collect()
    reported, quiet = allocate(req, options, on_provisional=keep), allocate(req, options)
    assert reported.allocations == quiet.allocations
    assert (reported.status, reported.total_spend) == (quiet.status, quiet.total_spend)
    assert reported.total_spend == pytest.approx(501.0)
    # Stage one's answer (any spend), then stage two's restricted one (loaded before the full run
    # either way; reported only if it spends less than stage one's).
    assert seen[-1].total_spend == pytest.approx(1_000.0)
    assert all(p.coverage_score == pytest.approx(1.0) for p in seen)


def test_a_failing_callback_is_logged_and_the_solve_goes_on(caplog):
    def broken(result):
        raise BrokenPipeError("the caller went away")

    with caplog.at_level(logging.WARNING, logger="stockpile.solvers"):
        result = allocate(_two_stage_request(), EVERY, on_provisional=broken)
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(500)
    assert "could not be reported" in caplog.text and "the caller went away" in caplog.text


def test_only_an_answer_better_than_the_last_one_passed_on_is_reported():
    seen, keep = _collect()
    reporter = engine._Reporter(keep, began=0.0, after_s=0.0)
    base = allocate(_two_stage_request())
    for score, spend in [(0.5, 800.0), (0.4, 100.0), (0.5, 900.0), (0.5, 700.0), (0.6, 2_000.0)]:
        reporter.report(lambda s=score, m=spend: base.model_copy(update={"coverage_score": s, "total_spend": m}))
    assert [(r.coverage_score, r.total_spend) for r in seen] == [(0.5, 800.0), (0.5, 700.0), (0.6, 2_000.0)]


def test_an_allocation_is_read_for_reporting_once_though_handed_on_twice(monkeypatch):
    # Guided max_coverage, restricted to "dear": stage one's restricted answer is reported before
    # its full run; that run (faked) stops without improving on it, so the stage ends with the
    # same allocation, which is not read, reported and checked a second time.
    from tests.fakes import fake_run, stopped

    req = request(300, [mineral(target=50)], [offer("dear", 20, 500), offer("cheap", 10, 500, fixed_cost=1.0)])
    monkeypatch.setattr(guide, "used_offers", lambda owners, values: {0})
    monkeypatch.setattr(engine, "cheapest_offers", lambda instance: frozenset())
    fake_run(monkeypatch, guide, 3, lambda compiled: stopped())  # stage one's full run
    reads: list[str] = []
    real_stage_two, real_result = engine._least_spend_stage, engine._Provisional._result

    def stage_two(*args):
        reads.append("stage two")
        return real_stage_two(*args)

    def result(self, first, answer, proven):
        reads.append("read")
        return real_result(self, first, answer, proven)

    monkeypatch.setattr(engine, "_least_spend_stage", stage_two)
    monkeypatch.setattr(engine._Provisional, "_result", result)
    seen, keep = _collect()
    allocate(req, EngineTuning(guide_min_integers=0, provisional_after_s=0.0, construct=False), on_provisional=keep)
    assert reads[: reads.index("stage two")] == ["read"]
    assert seen and seen[0].coverage_score == pytest.approx(300 / 20 / 50)  # dear's 15 t of 50
