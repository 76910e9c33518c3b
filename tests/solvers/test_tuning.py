"""Which HiGHS options each run of a solve gets: the choices measured in docs/performance.md."""

from __future__ import annotations

import pytest

import solvers.solve.highs as highs_module
from models import AllocationRequest, Status
from solvers import EngineTuning, allocate
from tests.builders import mineral, offer, request

JUMP = "mip_heuristic_run_feasibility_jump"


def options_of_each_run(monkeypatch, req: AllocationRequest, opts: EngineTuning | None = None) -> list[dict]:
    """The HiGHS options of every run ``allocate(req, opts)`` makes, in order."""
    seen: list[dict] = []
    real = highs_module.load

    def spy(h, compiled, options):
        seen.append(dict(options))
        return real(h, compiled, options)

    monkeypatch.setattr(highs_module, "load", spy)
    assert allocate(req, opts).status is Status.OPTIMAL
    return seen


def two_offers(objective: str, floor: float = 0.0) -> AllocationRequest:
    # Fixed costs and a minimum order: a MIP, so that warm starts and heuristics apply.
    return request(
        1_000,
        [mineral(target=50, min_quantity=floor)],
        [offer("a", 10, 40, fixed_cost=50), offer("b", 12, 40, min_order=10)],
        objective=objective,
    )


def test_max_coverage_stages_both_have_a_start_so_no_feasibility_jump(monkeypatch):
    # Stage one starts from buying nothing (no floors), stage two from stage one's answer.
    first, second = options_of_each_run(monkeypatch, two_offers("max_coverage"))
    assert first[JUMP] is False and second[JUMP] is False


def jump_by_start(monkeypatch, req: AllocationRequest, opts: EngineTuning) -> list[tuple[bool, bool]]:
    """(given a start, feasibility jump on) for every run ``allocate(req, opts)`` makes."""
    seen: list[tuple[bool, bool]] = []
    real = EngineTuning.highs

    def spy(self, time_left, with_start=False):
        values = real(self, time_left, with_start=with_start)
        seen.append((with_start, values[JUMP]))
        return values

    monkeypatch.setattr(EngineTuning, "highs", spy)
    assert allocate(req, opts).status is Status.OPTIMAL
    return seen


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        (EngineTuning(), False),  # below the guided size: the other heuristics find one soon enough
        (EngineTuning(guide_min_integers=1), True),  # guided: a large model's first incumbent
        (EngineTuning(feasibility_jump=True), True),  # as set, when set
        (EngineTuning(guide_min_integers=1, feasibility_jump=False), False),
    ],
)
def test_without_a_start_the_feasibility_jump_by_size_unless_set(monkeypatch, opts, expected):
    # With a floor, buying nothing is no start: HiGHS must find a first incumbent itself.
    runs = jump_by_start(monkeypatch, two_offers("min_cost", floor=30), opts)
    without = [jump for started, jump in runs if not started]
    assert without and all(jump is expected for jump in without)
    assert all(jump is False for started, jump in runs if started)  # a start: never (jump_with_start)


def test_jump_with_start_keeps_the_heuristic_on(monkeypatch):
    runs = options_of_each_run(monkeypatch, two_offers("max_coverage"), EngineTuning(jump_with_start=True))
    assert [r[JUMP] for r in runs] == [True, True]


@pytest.mark.parametrize(("stage_two_presolve", "expected"), [(False, "off"), (True, "on")])
def test_only_the_least_spend_stage_follows_stage_two_presolve(monkeypatch, stage_two_presolve, expected):
    opts = EngineTuning(stage_two_presolve=stage_two_presolve)
    first, second = options_of_each_run(monkeypatch, two_offers("max_coverage"), opts)
    assert first["presolve"] == "on"
    assert second["presolve"] == expected


def test_a_guided_stage_two_keeps_presolve(monkeypatch):
    # Guided, every run of stage two is on a model with most columns fixed at 0: presolve stays.
    runs = options_of_each_run(monkeypatch, two_offers("max_coverage"), EngineTuning(guide_min_integers=1))
    assert len(runs) >= 4  # each stage: the LP relaxation and at least one restricted model
    assert all(r["presolve"] == "on" for r in runs)


RINS, RENS = "mip_heuristic_run_rins", "mip_heuristic_run_rens"


@pytest.mark.parametrize(
    ("objective", "opts", "expected"),
    [
        ("max_coverage", EngineTuning(), False),  # by default off for max_coverage ...
        ("min_cost", EngineTuning(), True),  # ... on for min_cost ...
        # ... and for guided models (but in a full run from a restricted answer: tests/solvers/test_guided.py)
        ("max_coverage", EngineTuning(guide_min_integers=1, sub_mip_from_answer=True), True),
        ("max_coverage", EngineTuning(sub_mip_heuristics=True), True),  # as set, when set
        ("min_cost", EngineTuning(sub_mip_heuristics=False), False),
        ("max_coverage", EngineTuning(guide_min_integers=1, sub_mip_heuristics=False), False),
    ],
)
def test_sub_mip_heuristics_by_objective_and_size_unless_set(monkeypatch, objective, opts, expected):
    runs = options_of_each_run(monkeypatch, two_offers(objective, floor=30 if objective == "min_cost" else 0), opts)
    assert runs and all(r[RINS] is expected and r[RENS] is expected for r in runs)
