"""The guided solve (solvers/solve/guide.py), forced onto small requests where the exact answer is known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from models import Objective, Status
from solvers import TimeBudget, allocate, check_result, engine
from solvers.solve import guide
from solvers.tuning import EngineTuning
from tests import brute_force
from tests.builders import mineral, offer, request
from tests.fakes import fake_run, stopped
from tests.strategies import requests

GUIDED = EngineTuning(guide_min_integers=0)  # every model with integers takes the guided path
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@PROPERTY
@given(requests(max_minerals=2, max_offers=2))
def test_guided_matches_brute_force_on_tiny_requests(req):
    expected = brute_force.solve(req)
    result = allocate(req, GUIDED)
    assert check_result(req, result) == []
    if expected is None:
        assert result.status is Status.INFEASIBLE
        assert result.diagnostics
        return
    assert result.status is Status.OPTIMAL  # the strategies ask for mip_gap 0
    if req.objective is Objective.MAX_COVERAGE:
        assert result.coverage_score == pytest.approx(expected.score, abs=1e-6)
    assert result.total_spend == pytest.approx(expected.spend, abs=1e-6 * req.budget)


@PROPERTY
@given(requests(max_minerals=3, max_offers=3))
def test_guided_and_plain_solves_agree(req):
    guided, plain = allocate(req, GUIDED), allocate(req)
    assert guided.status is plain.status
    assert guided.coverage_score == pytest.approx(plain.coverage_score, abs=1e-6)
    assert guided.total_spend == pytest.approx(plain.total_spend, abs=1e-6 * req.budget)


def test_a_restricted_answer_as_good_as_the_full_models_optimum_is_optimal():
    # Found by the property test above. Stage two's restricted answer spends 0.11875 of the
    # budget, the full MIP proves 0.11875000000000002 optimal: the restricted answer, better
    # by float noise, is kept, and it is proven by that optimum: optimal, not 'feasible'.
    req = request(
        800,
        [mineral("m0", 15.0, max_quantity=22.5)],
        [
            offer("m0-0", 5.0, 40.0, "m0", min_order=12.0, fixed_cost=20.0),
            offer("m0-1", 11.01, 20.0, "m0", lot_size=10.0),
        ],
        policy={"max_suppliers": 1},
    )
    guided, plain = allocate(req, GUIDED), allocate(req)
    assert plain.status is Status.OPTIMAL
    assert guided.status is Status.OPTIMAL
    assert guided.total_spend == pytest.approx(plain.total_spend)
    assert check_result(req, guided) == []


def _two_offer_request(**extra):
    # 100 t wanted; "cheap" sells at 10 with a $50 fixed cost, "dear" at 12 with none.
    # Buying 100 from cheap costs 1,050, from dear 1,200: cheap alone is optimal.
    return request(
        budget=5_000,
        minerals=[mineral("co", 100.0, **extra)],
        suppliers=[offer("cheap", 10.0, fixed_cost=50.0), offer("dear", 12.0)],
        objective="min_cost",
    )


def _count_solves(monkeypatch, run=None) -> list[str]:
    """Record every HiGHS run the guided solve makes: "relaxation", "restricted" or "full".

    ``run(solve, compiled, *args, **kwargs)``, when given, makes each run (once recorded).
    """
    calls: list[str] = []
    real = guide.solve

    def counting(compiled, *args, **kwargs):
        if guide.is_restricted(compiled):
            calls.append("restricted")
        else:
            calls.append("full" if compiled.integrality.any() else "relaxation")
        return real(compiled, *args, **kwargs) if run is None else run(real, compiled, *args, **kwargs)

    monkeypatch.setattr(guide, "solve", counting)
    return calls


def _restrict_to(monkeypatch, offers: set[int]) -> None:
    """Make the restricted models hold exactly ``offers`` (the LP's choice and the cheapest ignored)."""
    monkeypatch.setattr(guide, "used_offers", lambda owners, values: set(offers))
    monkeypatch.setattr(engine, "cheapest_offers", lambda instance: frozenset())


def test_restricted_answer_within_the_gap_of_the_lp_bound_skips_the_full_model(monkeypatch):
    # The LP buys 100 from cheap with y = 1 (x <= y is tight at x = 1): the LP bound is 1,050,
    # the restricted MIP on {cheap} finds 1,050, so the gap is 0 and the full MIP never runs.
    calls = _count_solves(monkeypatch)
    result = allocate(_two_offer_request(), GUIDED)
    assert calls == ["relaxation", "restricted"]  # no full MIP
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(1_050.0)
    assert result.best_bound == pytest.approx(1_050.0)


def test_restricted_model_without_an_answer_falls_back_to_the_full_model(monkeypatch):
    # Keep no offer in the restricted model: with a floor it is infeasible, and the
    # full model must still find the optimum.
    calls = _count_solves(monkeypatch)
    _restrict_to(monkeypatch, set())
    result = allocate(_two_offer_request(), GUIDED)
    assert calls == ["relaxation", "restricted", "full"]  # the restricted model is infeasible
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(1_050.0)
    assert check_result(_two_offer_request(), result) == []


def test_restricted_answer_outside_the_gap_is_improved_by_the_full_model(monkeypatch):
    # Restricting to "dear" only gives 1,200 against an LP bound of 1,050: the full
    # model, started from that answer, must find cheap's 1,050.
    calls = _count_solves(monkeypatch)
    _restrict_to(monkeypatch, {1})
    result = allocate(_two_offer_request(), GUIDED)
    assert calls == ["relaxation", "restricted", "full"]
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(1_050.0)


@pytest.mark.parametrize(
    ("kept", "opts", "in_full_run"),
    [
        ({1}, GUIDED, False),  # from the restricted answer (1,200): the run proves, heuristics off
        ({1}, replace(GUIDED, sub_mip_from_answer=True), True),  # unless asked for
        ({1}, replace(GUIDED, sub_mip_heuristics=True), True),  # or set for every run
        (set(), GUIDED, True),  # no restricted answer (infeasible): the run must find one, on
    ],
)
def test_the_full_run_from_a_restricted_answer_has_no_sub_mip_heuristics(monkeypatch, kept, opts, in_full_run):
    heuristics: list[bool | None] = []

    def run(solve, compiled, run_opts, *args, **kwargs):
        heuristics.append(run_opts.sub_mip_heuristics)
        return solve(compiled, run_opts, *args, **kwargs)

    calls = _count_solves(monkeypatch, run)
    _restrict_to(monkeypatch, kept)
    result = allocate(_two_offer_request(), opts)
    assert calls == ["relaxation", "restricted", "full"]
    assert heuristics == [True, True, in_full_run]  # as resolved for this min_cost model: on
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(1_050.0)


def test_infeasible_lp_relaxation_means_an_infeasible_request():
    # 300 t of floor against 200 t of capacity: not even a fractional allocation exists.
    req = request(
        budget=1e6,
        minerals=[mineral("co", 300.0)],
        suppliers=[offer("a", 10.0, fixed_cost=5.0), offer("b", 11.0, min_order=20.0)],
        objective="min_cost",
    )
    result = allocate(req, GUIDED)
    assert result.status is Status.INFEASIBLE
    assert result.allocations == []
    assert [f.code for f in result.diagnostics] == ["floor_unmet"]


def test_restrict_leaves_out_every_column_of_the_other_offers():
    from solvers.build.program import column_offers, create_model
    from solvers.prepare.instance import prepare
    from solvers.solve.highs import compile_model

    req = _two_offer_request()
    model = create_model(prepare(req))
    compiled = compile_model(model)
    owners = column_offers(model, compiled)
    assert set(owners.tolist()) == {-1, 0, 1}
    restricted = guide.restrict(compiled, owners, {0})
    kept = restricted.kept
    assert np.array_equal(kept, np.flatnonzero(owners != 1))  # offer 0's columns and those of no offer
    sub = restricted.compiled
    assert guide.is_restricted(sub) and not guide.is_restricted(compiled)
    assert [sub.columns[i] for i in range(len(kept))] == [compiled.columns[c] for c in kept]
    for name in ("cost", "col_lower", "col_upper", "integrality"):
        assert np.array_equal(getattr(sub, name), getattr(compiled, name)[kept])
    assert np.array_equal(sub.matrix.toarray(), compiled.matrix.toarray()[:, kept])
    assert np.array_equal(sub.row_lower, compiled.row_lower) and np.array_equal(sub.row_upper, compiled.row_upper)
    assert guide.used_offers(owners, np.where(owners == 1, 0.5, 0.0)) == {1}


def test_a_restricted_answer_is_given_in_the_full_models_columns(monkeypatch):
    from solvers.build.program import column_offers, create_model
    from solvers.prepare.instance import prepare
    from solvers.solve.highs import compile_model

    req = _two_offer_request()
    model = create_model(prepare(req))
    compiled = compile_model(model)
    owners = column_offers(model, compiled)
    restricted = guide.restrict(compiled, owners, {0})
    outcome = restricted.solve(GUIDED.for_request(req), 10.0)
    assert outcome.values.shape == (len(compiled.columns),)
    assert outcome.values[restricted.kept].tolist() == pytest.approx(outcome.values[owners != 1].tolist())
    # the full model's objective at those values is the restricted model's
    full_value = compiled.sign * (float(compiled.cost @ outcome.values) + compiled.offset)
    assert full_value == pytest.approx(outcome.objective)
    assert full_value == pytest.approx(1_050.0 / 5_000)  # cheap's spend, in units of the budget
    # a start is given in the full model's columns, and HiGHS gets the kept ones
    starts: list = []
    real = guide.solve
    monkeypatch.setattr(
        guide,
        "solve",
        lambda *args, start=None, watch=None: starts.append(start) or real(*args, start=start, watch=watch),
    )
    start = np.where(owners == 1, 7.0, outcome.values)  # 7: in a column left out, never passed on
    again = restricted.solve(GUIDED.for_request(req), 10.0, start=start)
    assert len(starts) == 1 and np.array_equal(starts[0], outcome.values[restricted.kept])
    assert again.objective == pytest.approx(outcome.objective)


def test_cheapest_offers_spread_fixed_costs_over_the_bound():
    from solvers.prepare.instance import prepare

    # Per unit at the bound of 100: a 10 + 0 = 10, b 8 + 500/100 = 13, c 9 + 50/100 = 9.5.
    req = request(
        budget=1e6,
        minerals=[mineral("co", 100.0)],
        suppliers=[offer("a", 10.0), offer("b", 8.0, fixed_cost=500.0), offer("c", 9.0, fixed_cost=50.0)],
    )
    assert guide.cheapest_offers(prepare(req), per_mineral=2) == {2, 0}


def test_a_second_restricted_model_with_the_cheapest_offers_comes_before_the_full_model(monkeypatch):
    # The LP "uses" only dear (1,200 against the LP bound of 1,050); adding each mineral's
    # cheapest offers brings cheap in, which reaches the bound: the full MIP never runs.
    calls = _count_solves(monkeypatch)
    monkeypatch.setattr(guide, "used_offers", lambda owners, values: {1})
    result = allocate(_two_offer_request(), GUIDED)
    assert calls == ["relaxation", "restricted", "restricted"]  # to {dear}, then to {dear, cheap}
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(1_050.0)
    assert result.best_bound == pytest.approx(1_050.0)


def _count_cheapest(monkeypatch) -> list[int]:
    """Record every call of the engine's ``cheapest_offers`` (a pass over every offer)."""
    calls: list[int] = []
    real = engine.cheapest_offers

    def counting(instance):
        calls.append(len(instance.offers))
        return real(instance)

    monkeypatch.setattr(engine, "cheapest_offers", counting)
    return calls


def test_the_cheapest_offers_are_not_looked_for_when_the_first_restricted_model_is_proven(monkeypatch):
    solves, cheapest = _count_solves(monkeypatch), _count_cheapest(monkeypatch)
    result = allocate(_two_offer_request(), GUIDED)  # the LP uses cheap, whose MIP reaches the LP bound
    assert solves == ["relaxation", "restricted"]
    assert cheapest == []
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(1_050.0)


def test_the_cheapest_offers_are_looked_for_once_for_both_stages(monkeypatch):
    # The LP "uses" only dear in both stages. Within a budget of 1,100, dear covers 11/12 of
    # the target and cheap all of it: each stage needs cheap from the cheapest offers.
    solves, cheapest = _count_solves(monkeypatch), _count_cheapest(monkeypatch)
    monkeypatch.setattr(guide, "used_offers", lambda owners, values: {1})
    req = _two_offer_request().model_copy(update={"objective": Objective.MAX_COVERAGE, "budget": 1_100.0})
    result = allocate(req, GUIDED)
    # stage one: LP, restricted to {dear}, then to {dear, cheap}
    assert solves[:3] == ["relaxation", "restricted", "restricted"]
    # stage two: LP, restricted to {dear} (it cannot hold the score) ...
    assert solves[3:5] == ["relaxation", "restricted"]
    assert len(solves) > 5  # ... and more
    assert cheapest == [2]
    assert check_result(req, result) == []
    assert result.coverage_score == pytest.approx(1.0)
    assert result.total_spend == pytest.approx(1_050.0)


def test_out_of_time_the_start_still_becomes_an_allocation():
    # Without floors buying nothing is feasible and goes to HiGHS as the start, so that a
    # time limit always leaves an allocation in hand. A deadline already past when the
    # guided solve begins (a build longer than the limit) must not lose it: the plain
    # solve hands the start to HiGHS for its minimum time, and so must the guided one.
    req = request(10_000, [mineral(target=50)], [offer("a", 10, 500, fixed_cost=5.0), offer("b", 20, 500)])
    result = allocate(req, EngineTuning(guide_min_integers=0, time_limit_s=1e-6))
    assert result.status in (Status.FEASIBLE, Status.OPTIMAL)
    assert check_result(req, result) == []


@pytest.mark.parametrize(
    "stop", ["time limit, nothing found", "solver error, values not vouched for", "no memory for its run"]
)
def test_full_model_without_a_better_answer_keeps_the_restricted_one_against_the_lp_bound(monkeypatch, stop):
    # Restricted to dear: 1,200. The full MIP then stops at its time limit with nothing,
    # fails (HiGHS 'Solve error') reporting values it does not vouch for, or finds no
    # memory to run in (a worker at its cap). Each way the answer is dear's 1,200,
    # feasible, with the LP's 1,050 as its bound: not the restricted model's own bound,
    # not an exception.
    from solvers.solve.highs import SolveOutcome, SolveState

    def outcome(compiled):
        if stop.startswith("time"):
            return stopped()
        if stop.startswith("no memory"):
            raise MemoryError("no memory left to start HiGHS's thread")
        return SolveOutcome(SolveState.ERROR, 0.0, 0.0, 0.0, 0.0, np.zeros(len(compiled.columns)), "Solve error")

    runs = fake_run(monkeypatch, guide, 3, outcome)
    _restrict_to(monkeypatch, {1})
    req = _two_offer_request()
    result = allocate(req, GUIDED)
    assert len(runs) == 3
    assert result.status is Status.FEASIBLE
    assert result.total_spend == pytest.approx(1_200.0)
    assert result.best_bound == pytest.approx(1_050.0)
    assert result.mip_gap == pytest.approx(150 / 1_200)
    assert check_result(req, result) == []


@pytest.mark.parametrize("restricted_seconds", [1_000.0, 12.0])
def test_the_full_model_needs_twice_the_time_the_restricted_ones_took(monkeypatch, restricted_seconds):
    # Restricted to dear: 1,200 against the LP's 1,050. The restricted run reports having
    # taken 1,000 s, or 12 s: more than half of the 20 s limit left either way, so the full
    # model is not started (on a large model HiGHS's root may overrun any limit), dear's
    # 1,200 stands, against the LP bound.
    from dataclasses import replace

    def slow_restricted(solve, compiled, *args, **kwargs):
        out = solve(compiled, *args, **kwargs)
        return replace(out, seconds=restricted_seconds) if len(runs) == 2 else out

    runs = _count_solves(monkeypatch, slow_restricted)
    _restrict_to(monkeypatch, {1})
    req = _two_offer_request()
    assert req.options.time_limit_s == 20
    result = allocate(req, GUIDED)
    assert runs == ["relaxation", "restricted"]  # no full MIP
    assert result.status is Status.FEASIBLE
    assert result.total_spend == pytest.approx(1_200.0)
    assert result.best_bound == pytest.approx(1_050.0)
    assert check_result(req, result) == []


def test_the_full_model_runs_with_more_than_twice_the_restricted_ones_time_left(monkeypatch):
    from dataclasses import replace

    def restricted_took_7_s(solve, compiled, *args, **kwargs):
        out = solve(compiled, *args, **kwargs)
        return replace(out, seconds=7.0) if len(runs) == 2 else out

    runs = _count_solves(monkeypatch, restricted_took_7_s)
    _restrict_to(monkeypatch, {1})
    result = allocate(_two_offer_request(), GUIDED)
    assert runs == ["relaxation", "restricted", "full"]  # (about 20 s left >= 14 s)
    assert result.total_spend == pytest.approx(1_050.0)


def test_a_failed_restricted_run_is_not_taken_as_an_answer(monkeypatch):
    # The restricted MIP fails (HiGHS 'Solve error') with values it does not vouch for, and
    # an objective equal to the LP bound: it must not be returned as proven; the full
    # model runs and finds cheap's 1,050.
    from solvers.solve.highs import SolveOutcome, SolveState

    def failed(compiled):
        n = len(compiled.columns)
        return SolveOutcome(SolveState.ERROR, 1_050.0 / 5_000, None, None, 0.0, np.zeros(n), "Solve error")

    runs = fake_run(monkeypatch, guide, 2, failed)
    monkeypatch.setattr(engine, "cheapest_offers", lambda instance: frozenset())
    req = _two_offer_request()
    result = allocate(req, GUIDED)
    assert len(runs) == 3  # LP, restricted (failed), full
    assert result.status is Status.OPTIMAL
    assert result.total_spend == pytest.approx(1_050.0)
    assert check_result(req, result) == []


def test_the_start_lies_within_every_restricted_model_it_is_handed_to(monkeypatch):
    # A start buying a hair (5e-10 of its bound, below USED) from dear: dear must stay in the
    # restricted model, or the start lies outside that model's bounds (and, where the
    # hair is many units, breaks its rows).
    from solvers.build.program import column_offers, create_model
    from solvers.prepare.instance import prepare
    from solvers.solve.highs import compile_model
    from solvers.solve.highs import solve as plain_solve

    req = _two_offer_request()
    model = create_model(prepare(req))
    compiled = compile_model(model)
    owners = column_offers(model, compiled)
    start = plain_solve(compiled, GUIDED.for_request(req), 10.0).values.copy()
    (dear_x,) = [c for c, var in enumerate(compiled.columns) if owners[c] == 1 and var.parent_component() is model.x]
    start[dear_x] = 5e-10
    handed: list[tuple[object, np.ndarray]] = []
    real = guide.solve

    def recording(model_, opts, time_left, start=None, watch=None):
        if start is not None:
            handed.append((model_, start))
        return real(model_, opts, time_left, start=start)

    monkeypatch.setattr(guide, "solve", recording)
    guide.solve_guided(compiled, owners, GUIDED.for_request(req), TimeBudget.start(10.0), start=start)
    assert handed
    for model_, given_start in handed:
        assert np.all(given_start >= model_.col_lower) and np.all(given_start <= model_.col_upper)
