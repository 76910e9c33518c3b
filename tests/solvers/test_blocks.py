"""Stage one mineral by mineral under min_cost (solvers/solve/blocks.py): the same least spend as the
whole model, or the whole model when the parts' answers break the budget or a part finds nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import solvers.engine as engine_module
from bench.instances import hard_request
from models import AllocationRequest, Objective, Status
from solvers import allocate, check_result, set_tracer
from solvers.build.program import column_minerals, create_model
from solvers.prepare.instance import prepare
from solvers.solve.blocks import split
from solvers.solve.highs import compile_model
from solvers.tuning import EngineTuning
from tests.builders import every_kind_of_offer, mineral, offer, request
from tests.fakes import stopped
from tests.strategies import requests

WHOLE = EngineTuning(split_by_mineral=False)
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _hard(minerals: int, offers: int, seed: int = 1, limit: float = 20.0, **policy: Any) -> AllocationRequest:
    body = hard_request(minerals, offers, "min_cost", seed=seed, time_limit_s=limit)
    body["policy"].update(policy)
    return AllocationRequest.model_validate(body)


def _traced(req: AllocationRequest, options: EngineTuning | None = None) -> tuple[Any, list[tuple[str, str, dict]]]:
    events: list[tuple[str, str, dict]] = []
    previous = set_tracer(lambda kind, name, info: events.append((kind, name, info)))
    try:
        result = allocate(req, options)
    finally:
        set_tracer(previous)
    return result, events


def test_a_min_cost_model_splits_into_one_block_per_mineral_joined_by_the_budget_row_alone():
    req = _hard(5, 20)
    model = create_model(prepare(req))
    compiled = compile_model(model)
    owner = column_minerals(model, compiled)
    blocks = split(compiled, owner)
    assert blocks is not None and len(blocks.columns) == 5
    assert sorted(np.concatenate(blocks.columns).tolist()) == list(range(len(compiled.cost)))
    rows = np.concatenate([*blocks.rows, blocks.coupling])
    assert sorted(rows.tolist()) == list(range(compiled.matrix.shape[0]))
    assert len(blocks.coupling) == 1  # the budget
    budget = compiled.matrix.tocsr()[blocks.coupling]
    assert {int(owner[c]) for c in budget.indices} == set(range(5))  # it reaches every mineral
    for k, (columns, rows) in enumerate(zip(blocks.columns, blocks.rows, strict=True)):
        assert set(owner[columns].tolist()) == {k}
        touched = compiled.matrix.tocsr()[rows].indices
        assert set(touched.tolist()) <= set(columns.tolist())  # a block's rows stay in its columns


def test_a_column_without_a_mineral_or_a_single_mineral_leaves_the_model_whole():
    req = _hard(5, 20)
    model = create_model(prepare(req))
    compiled = compile_model(model)
    owner = column_minerals(model, compiled)
    assert split(compiled, np.where(np.arange(len(owner)) == 0, -1, owner)) is None
    assert split(compiled, np.zeros_like(owner)) is None


@pytest.fixture
def split_at_once(monkeypatch):
    """The whole model's first run, which solves most requests alone, cut to HiGHS's least time limit."""
    monkeypatch.setattr(engine_module, "SPLIT_AFTER_S", 0.0)


@pytest.mark.parametrize("size", [(2, 20), (5, 20), (8, 25)])
def test_split_by_mineral_finds_the_whole_models_least_spend(size: tuple[int, int], split_at_once):
    for seed in (1, 2):
        req = _hard(*size, seed=seed)
        split_result, events = _traced(req)
        whole = allocate(req, WHOLE)
        assert split_result.status is Status.OPTIMAL and whole.status is Status.OPTIMAL
        assert check_result(req, split_result) == [] and check_result(req, whole) == []
        gap = req.options.mip_gap
        assert split_result.total_spend == pytest.approx(whole.total_spend, rel=2 * gap)
        (answer,) = [info for kind, name, info in events if name == "blocks_answer"]
        assert answer["kept"] and answer["proven"]
        whole_columns = next(info for _, name, info in events if name == "compiled")["columns"]
        runs = [info["columns"] for kind, name, info in events if kind == "begin" and name == "highs_run"]
        # the whole model's first run, cut short; then a run per mineral (one of them again, from the
        # heuristic's allocation, if it had nothing half a second into its run)
        assert runs[0] == whole_columns and whole_columns not in runs[1:]
        assert size[0] <= len(runs) - 1 <= size[0] + 1


@PROPERTY
@given(requests(max_minerals=3, max_offers=4))
def test_split_or_whole_the_answer_is_the_same(req: AllocationRequest):
    if req.objective is not Objective.MIN_COST:
        req = req.model_copy(update={"objective": Objective.MIN_COST})
    split_result, whole = allocate(req), allocate(req, WHOLE)
    assert split_result.status.has_allocation == whole.status.has_allocation
    if split_result.status is Status.INFEASIBLE or whole.status is Status.INFEASIBLE:
        assert split_result.status is whole.status
        return
    if split_result.status is Status.OPTIMAL and whole.status is Status.OPTIMAL:
        assert check_result(req, split_result) == []
        gap = req.options.mip_gap
        assert split_result.total_spend == pytest.approx(whole.total_spend, rel=2 * gap, abs=1e-6)


def test_when_the_parts_break_the_budget_the_whole_model_answers(split_at_once):
    cheapest = allocate(_hard(5, 20)).total_spend
    req = _hard(5, 20).model_copy(update={"budget": 0.999 * cheapest})
    result, events = _traced(req)
    (answer,) = [info for kind, name, info in events if name == "blocks_answer"]
    assert not answer["kept"]  # over the budget: the whole model is solved, and finds it infeasible
    assert result.status is Status.INFEASIBLE and allocate(req, WHOLE).status is Status.INFEASIBLE


def test_an_infeasible_mineral_makes_the_request_infeasible_with_the_same_diagnosis():
    body = every_kind_of_offer("min_cost").model_dump(mode="json")
    body["minerals"][0]["target"] = 1e9  # far beyond what its offers hold
    req = AllocationRequest.model_validate(body)
    split_result, whole = allocate(req), allocate(req, WHOLE)
    assert split_result.status is Status.INFEASIBLE and whole.status is Status.INFEASIBLE
    assert [f.code for f in split_result.diagnostics] == [f.code for f in whole.diagnostics]


def test_a_part_stopped_without_an_allocation_leaves_the_answer_to_the_whole_model(monkeypatch):
    real = engine_module.solve
    sizes: list[int] = []

    def parts_stopped(compiled, options, time_left, start=None, watch=None):
        sizes.append(len(compiled.cost))
        if len(sizes) <= 2:  # the whole model's first run, cut short, then the first part
            return stopped(time_left)
        return real(compiled, options, time_left, start=start, watch=watch)

    monkeypatch.setattr(engine_module, "solve", parts_stopped)
    req = _hard(5, 20)
    result = allocate(req)
    assert result.status is Status.OPTIMAL and check_result(req, result) == []
    whole = len(create_model(prepare(req)).columns.vars)
    assert sizes[0] == whole and sizes[1] < whole  # the whole model briefly, a part
    assert len(sizes) >= 3 and set(sizes[2:]) == {whole}  # then the whole model again


def test_a_part_with_nothing_by_the_first_answer_time_goes_on_from_the_heuristics_allocation(
    monkeypatch, split_at_once
):
    monkeypatch.setattr(engine_module, "FIRST_ANSWER_S", 0.0)
    real = engine_module.solve
    runs: list[tuple[int, Any, Any, Any]] = []

    def recording(compiled, options, time_left, start=None, watch=None):
        outcome = real(compiled, options, time_left, start=start, watch=watch)
        runs.append((len(compiled.cost), start, watch, outcome))
        return outcome

    monkeypatch.setattr(engine_module, "solve", recording)
    req = _hard(10, 40, limit=5.0)
    result = allocate(req)
    assert result.status.has_allocation and check_result(req, result) == []
    watched = [i for i, (_, _, watch, outcome) in enumerate(runs) if outcome.watched_out]
    assert watched, "the first part run was not stopped"
    size, start, watch, _ = runs[watched[0] + 1]
    assert size == runs[watched[0]][0] and watch is None  # the same part again, unwatched,
    assert start is not None and np.any(start != 0)  # from the heuristic's allocation
    assert all(start is not None for _, start, _, _ in runs[watched[0] + 1 :])  # and every part after it


def test_a_request_the_whole_model_solves_at_once_is_not_split():
    req = every_kind_of_offer("min_cost")
    result, events = _traced(req)
    assert result.status is Status.OPTIMAL
    assert [name for kind, name, _ in events if kind == "begin" and name == "highs_run"] == ["highs_run"]
    assert not [name for _, name, _ in events if name in ("blocks", "blocks_answer")]


def test_off_the_whole_model_is_solved_as_before():
    req = _hard(5, 20)
    _, events = _traced(req, WHOLE)
    assert not [name for _, name, _ in events if name in ("blocks", "blocks_answer")]


def test_a_mineral_without_offers_is_a_part_of_its_own():
    # no offers (as when a what-if change removes them): its part holds only its own columns, and
    # under min_cost its target cannot be met
    req = request(
        1e6, [mineral("co", 100), mineral("sb", 50)], [offer("a", 20.0, 200), offer("b", 25.0, 200)], "min_cost"
    )
    split_result, whole = allocate(req), allocate(req, WHOLE)
    assert split_result.status is Status.INFEASIBLE and whole.status is Status.INFEASIBLE
