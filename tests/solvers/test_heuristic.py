"""The construction heuristic (solvers/solve/heuristic.py): every allocation it makes keeps every rule,
its warm start is a feasible point of the compiled model, and the engine answers with it when
the time limit comes before HiGHS has anything."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

import solvers.engine as engine_module
from bench.instances import hard_request
from models import AllocationRequest, ModelSize, Objective, Status
from solvers import allocate, check_result, set_tracer
from solvers.build.program import create_model
from solvers.prepare.instance import prepare
from solvers.report.result import SolveStats, build_result
from solvers.solve.heuristic import construct, start_values
from solvers.solve.highs import Watch, compile_model
from solvers.tuning import EngineTuning
from tests.fakes import stopped
from tests.strategies import requests

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
EMPTY = ModelSize(variables=0, binaries=0, integers=0, constraints=0)


def _result(request: AllocationRequest, quantities: list[float]):
    return build_result(request, quantities, SolveStats(Status.FEASIBLE, 0.0, EMPTY), [])


@PROPERTY
@given(requests(max_minerals=3, max_offers=4))
def test_every_allocation_the_heuristic_makes_passes_the_independent_check(req):
    made = construct(prepare(req))
    if made.quantities is None:
        assert made.blocked  # it says which rule stood in its way
        return
    assert check_result(req, _result(req, made.quantities)) == []


@PROPERTY
@given(requests(objective="max_coverage", floors=False, max_minerals=3, max_offers=4))
def test_without_floors_the_heuristic_always_has_an_allocation(req):
    # buying nothing keeps every rule then: the heuristic never does worse than that
    assert construct(prepare(req)).quantities is not None


@PROPERTY
@given(requests(max_minerals=3, max_offers=4))
def test_the_warm_start_is_a_feasible_point_of_the_compiled_model(req):
    instance = prepare(req)
    made = construct(instance)
    if made.quantities is None:
        return
    model = create_model(instance)
    compiled = compile_model(model)
    x = start_values(model, compiled, made.quantities)
    assert x is not None
    activity = compiled.matrix @ x
    scale = 1e-7 * np.maximum(1.0, np.abs(activity))
    assert np.all(activity >= compiled.row_lower - scale)
    assert np.all(activity <= compiled.row_upper + scale)
    assert np.all(x >= compiled.col_lower - 1e-9) and np.all(x <= compiled.col_upper + 1e-9)
    whole = compiled.integrality.astype(bool)
    assert np.all(np.abs(x[whole] - np.round(x[whole])) <= 1e-9)


def _hard(objective: str, limit: float) -> AllocationRequest:
    return AllocationRequest.model_validate(hard_request(10, 40, objective, seed=1, time_limit_s=limit))


def test_the_heuristic_handles_a_hard_request_of_400_offers():
    for objective in ("max_coverage", "min_cost"):
        req = _hard(objective, 10.0)
        made = construct(prepare(req))
        assert made.quantities is not None, made.blocked
        result = _result(req, made.quantities)
        assert check_result(req, result) == []
        assert result.allocations
        if objective == "max_coverage":
            assert result.coverage_score > 0


def test_a_request_stopped_before_highs_finds_anything_gets_the_heuristics_allocation(monkeypatch):
    def every_run_stopped(compiled, options, time_left, start=None, watch=None):
        return stopped(time_left)

    monkeypatch.setattr(engine_module, "solve", every_run_stopped)
    for objective in ("max_coverage", "min_cost"):
        req = _hard(objective, 1.0)
        result = allocate(req)
        assert result.status is Status.FEASIBLE
        assert result.allocations
        assert check_result(req, result) == []
        assert [f.code for f in result.diagnostics] == ["heuristic_allocation"]
        made = construct(prepare(req))
        assert [line.quantity for line in result.allocations] == [q for q in made.quantities if q > 0]


def test_the_heuristic_does_not_run_on_small_requests(monkeypatch):
    def every_run_stopped(compiled, options, time_left, start=None, watch=None):
        return stopped(time_left)

    monkeypatch.setattr(engine_module, "solve", every_run_stopped)
    req = AllocationRequest.model_validate(hard_request(2, 20, "min_cost", seed=1, time_limit_s=1.0))
    assert allocate(req).status is Status.FEASIBLE  # 40 offers
    assert allocate(req, EngineTuning(construct_min_offers=41)).status is Status.NO_SOLUTION


def test_handed_to_highs_as_its_start_the_heuristics_allocation_is_kept_or_bettered():
    for objective in ("max_coverage", "min_cost"):
        req = _hard(objective, 0.5)
        result = allocate(req, EngineTuning(start_from_heuristic=True))
        assert result.status is Status.FEASIBLE and check_result(req, result) == []
        heuristic = _result(req, construct(prepare(req)).quantities)
        if objective == "max_coverage":
            assert result.coverage_score >= heuristic.coverage_score - 1e-6
        else:
            assert result.total_spend <= heuristic.total_spend * (1 + 1e-6)


def test_a_run_with_nothing_by_the_first_answer_time_goes_on_from_the_heuristics_allocation(monkeypatch):
    # The watch at once (FIRST_ANSWER_S 0): HiGHS, which finds nothing on these within seconds, is
    # stopped, the heuristic's allocation is made, and HiGHS starts again from it, unwatched.
    monkeypatch.setattr(engine_module, "FIRST_ANSWER_S", 0.0)
    real = engine_module.solve
    runs = []

    def recording(compiled, options, time_left, start=None, watch=None):
        outcome = real(compiled, options, time_left, start=start, watch=watch)
        runs.append((start, watch, outcome))
        return outcome

    monkeypatch.setattr(engine_module, "solve", recording)
    for objective in ("max_coverage", "min_cost"):
        runs.clear()
        req = _hard(objective, 3.0)
        result = allocate(req, EngineTuning(split_by_mineral=False))  # the parts' watch: tests/solvers/test_blocks.py
        assert result.status.has_allocation and result.allocations and check_result(req, result) == []
        (_, watch, watched), (start, again, _) = runs[:2]
        assert watch is not None and watched.watched_out
        assert again is None and start is not None and np.any(start != 0)  # the heuristic's allocation


def test_a_guided_solve_with_nothing_by_the_first_answer_time_goes_on_from_the_heuristics_allocation(monkeypatch):
    # As above, on the guided solve (every model guided): its restricted run is stopped at once, the
    # heuristic runs between two stage-one solves, and the second starts HiGHS from its allocation.
    monkeypatch.setattr(engine_module, "FIRST_ANSWER_S", 0.0)
    seen: list[tuple[str, str, bool]] = []

    def tracer(kind, name, info):
        if kind == "begin" and name in ("stage", "heuristic", "highs_run"):
            seen.append((name, str(info.get("stage", "")), bool(info.get("start"))))

    previous = set_tracer(tracer)
    try:
        for objective in ("max_coverage", "min_cost"):
            seen.clear()
            req = _hard(objective, 3.0)
            result = allocate(req, EngineTuning(guide_min_integers=0))
            assert result.status.has_allocation and result.allocations and check_result(req, result) == []
            names = [name for name, _, _ in seen]
            heuristic = names.index("heuristic")
            assert names[0] == "stage" and names[heuristic + 1] == "stage"
            again = [started for name, _, started in seen[heuristic + 1 :] if name == "highs_run"]
            assert again[1]  # the first restricted MIP after the LP starts from the heuristic's allocation
    finally:
        set_tracer(previous)


def test_the_watch_counts_only_an_allocation_better_than_the_start():
    # HiGHS minimises: the start's objective 5; an incumbent of 5 is the start itself.
    assert Watch(0.0, trivial=5.0).has_nothing(np.inf)
    assert Watch(0.0, trivial=5.0).has_nothing(5.0)
    assert not Watch(0.0, trivial=5.0).has_nothing(4.0)
    assert not Watch(0.0).has_nothing(7.0)  # no start: any allocation counts


def test_a_request_solved_before_the_watch_is_not_stopped(monkeypatch):
    real = engine_module.solve
    runs = []

    def recording(compiled, options, time_left, start=None, watch=None):
        runs.append(real(compiled, options, time_left, start=start, watch=watch))
        return runs[-1]

    monkeypatch.setattr(engine_module, "solve", recording)
    req = AllocationRequest.model_validate(hard_request(2, 20, "min_cost", seed=1, time_limit_s=5.0))  # 40 offers
    assert allocate(req).status is Status.OPTIMAL
    assert not any(outcome.watched_out for outcome in runs)


def test_without_the_heuristic_the_same_stop_leaves_nothing(monkeypatch):
    def every_run_stopped(compiled, options, time_left, start=None, watch=None):
        return stopped(time_left)

    monkeypatch.setattr(engine_module, "solve", every_run_stopped)
    req = _hard("min_cost", 1.0)
    result = allocate(req, EngineTuning(construct=False))
    assert result.status is Status.NO_SOLUTION and result.allocations == []


def test_a_hard_request_with_a_tiny_time_limit_still_gets_an_allocation():
    # the real solver, stopped at 0.05 s: the heuristic's allocation, or HiGHS's from it
    for objective in ("max_coverage", "min_cost"):
        req = _hard(objective, 0.05)
        result = allocate(req)
        assert result.status is Status.FEASIBLE
        assert result.allocations
        assert check_result(req, result) == []
        made = construct(prepare(req))
        heuristic = _result(req, made.quantities)
        if req.objective is Objective.MAX_COVERAGE:
            assert result.coverage_score >= heuristic.coverage_score - 1e-6
        else:
            assert result.total_spend <= heuristic.total_spend * (1 + 1e-6)


def test_when_nothing_is_found_the_blocking_rule_is_named(monkeypatch):
    # a share of at most half needs two suppliers; one is allowed
    body = hard_request(2, 20, "min_cost", seed=1, time_limit_s=1.0)
    body["policy"]["max_suppliers"] = 1
    req = AllocationRequest.model_validate(body)
    made = construct(prepare(req))
    assert made.quantities is None
    assert "max_supplier_share" in made.blocked and "max_suppliers" in made.blocked

    def every_run_stopped(compiled, options, time_left, start=None, watch=None):
        return stopped(time_left)

    monkeypatch.setattr(engine_module, "solve", every_run_stopped)
    result = allocate(req)
    assert result.status is Status.NO_SOLUTION
    codes = [f.code for f in result.diagnostics]
    assert codes == ["stopped_without_solution", "heuristic_blocked"]
    assert "max_suppliers" in result.diagnostics[1].message


def _lots_request() -> AllocationRequest:
    # two suppliers at most, none above half: a floor of 100 needs two offers buying exactly as much
    offer = {"mineral": "m", "country": "AU", "unit_price": 1.0}
    return AllocationRequest.model_validate(
        {
            "budget": 1e6,
            "objective": "min_cost",
            "minerals": [{"id": "m", "target": 100}],
            "suppliers": [
                {**offer, "id": "a", "capacity": 300, "lot_size": 30, "min_order": 30},
                {**offer, "id": "b", "capacity": 450, "lot_size": 45, "min_order": 45},
                {**offer, "id": "c", "capacity": 140, "lot_size": 70, "min_order": 70, "unit_price": 0.5},
            ],
            "policy": {"max_suppliers": 2, "max_supplier_share": 0.5},
        }
    )


def test_the_pair_search_finds_the_least_quantity_two_offers_lots_agree_on():
    from solvers.solve.heuristic import _Builder

    instance = prepare(_lots_request())
    builder = _Builder(instance, {})
    (plan,) = builder.pairs(instance.minerals[0])
    # 30 and 45 agree first on 90 (at least 50 each); c's lots of 70 meet neither within capacity
    ids = {instance.request.suppliers[int(instance.offers.table.index[p])].id: q for p, q in plan.quantity.items()}
    assert ids == {"a": 90.0, "b": 90.0}
    made = construct(instance)
    assert made.quantities == [90.0, 90.0, 0.0]
    assert check_result(instance.request, _result(instance.request, made.quantities)) == []


def test_a_floor_only_pairs_reach_is_met_without_the_per_mineral_mip(monkeypatch):
    # 1,000 offers: a mineral's min_quantity is reached only by two offers whose lots agree; the
    # engine gives the per-mineral MIP little time after HiGHS, so the pair search must find it
    from solvers.solve import heuristic

    monkeypatch.setattr(heuristic, "_mineral_mip", lambda builder, md, seconds: None)
    for seed in (1, 3):
        req = AllocationRequest.model_validate(hard_request(20, 50, "max_coverage", seed=seed, time_limit_s=20.0))
        made = construct(prepare(req))
        assert made.quantities is not None, made.blocked
        assert check_result(req, _result(req, made.quantities)) == []
