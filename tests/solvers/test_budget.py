"""The time one request may use (solvers/budget.py), and the engine reading it."""

from __future__ import annotations

import math
import pickle
import time

import pytest

from solvers import TimeBudget, allocate
from solvers import engine as engine_module
from solvers.tuning import EngineTuning
from tests.builders import mineral, offer, request
from tests.fakes import stopped


def test_the_deadline_counts_from_the_start_less_what_is_kept_back():
    budget = TimeBudget(30.0, began=100.0)
    assert budget.deadline == 130.0
    assert budget.remaining(now=110.0) == 20.0
    assert budget.remaining(now=131.0) == -1.0
    assert not budget.expired(now=129.9) and budget.expired(now=130.0)
    kept = budget.keep_back(2.0).keep_back(0.5)
    assert kept.deadline == 127.5 and kept.limit_s == 30.0  # the limit quoted stays the request's
    assert kept.remaining(now=110.0) == 17.5
    assert budget.keep_back(-1.0) == budget  # nothing kept back, never time added
    assert budget.after(5.0) == 135.0  # a hard deadline: grace past the deadline
    assert kept.after(1.0) == 128.5


def test_start_clamps_to_the_maximum_and_counts_from_now_unless_told():
    assert TimeBudget.start(300.0, max_s=120.0, began=0.0).limit_s == 120.0
    assert TimeBudget.start(30.0, max_s=120.0, began=0.0).limit_s == 30.0
    assert TimeBudget.start(30.0, began=7.0) == TimeBudget(30.0, 7.0)
    before = time.monotonic()
    budget = TimeBudget.start(30.0)
    assert before <= budget.began <= time.monotonic()
    assert 29.0 < budget.remaining() <= 30.0


def test_the_rest_is_what_is_left_from_now_at_least_a_floor():
    budget = TimeBudget(30.0, began=100.0)
    rest = budget.rest(at_least=0.05, now=105.0)
    assert rest == TimeBudget(25.0, 105.0)
    assert rest.deadline == budget.deadline  # handing over loses no time and adds none
    assert budget.keep_back(5.0).rest(at_least=0.05, now=105.0).limit_s == 20.0
    late = budget.rest(at_least=0.05, now=200.0)
    assert late == TimeBudget(0.05, 200.0)  # past its deadline: the floor, from now


@pytest.mark.parametrize(
    "fields",
    [
        {"limit_s": 0.0, "began": 0.0},
        {"limit_s": -1.0, "began": 0.0},
        {"limit_s": math.inf, "began": 0.0},
        {"limit_s": math.nan, "began": 0.0},
        {"limit_s": 1.0, "began": math.nan},
        {"limit_s": 1.0, "began": 0.0, "kept_s": -0.1},
    ],
)
def test_a_budget_that_means_nothing_is_refused(fields):
    with pytest.raises(ValueError):
        TimeBudget(**fields)


def test_a_budget_is_an_immutable_value_that_crosses_processes():
    budget = TimeBudget(30.0, began=100.0, kept_s=1.0)
    with pytest.raises(AttributeError):
        budget.limit_s = 60.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(budget)) == budget
    assert hash(budget) == hash(TimeBudget(30.0, 100.0, 1.0))


# -- the engine reads a budget it is handed --------------------------------------------------


@pytest.fixture
def given(monkeypatch) -> list[float]:
    """Every HiGHS run the engine makes stops at once with nothing; the time each was given, in order."""
    times: list[float] = []

    def every_run_stopped(compiled, options, time_left, start=None, watch=None):
        times.append(time_left)
        return stopped(time_left)

    monkeypatch.setattr(engine_module, "solve", every_run_stopped)
    return times


def test_a_budget_handed_to_the_engine_is_the_time_it_works_to(given: list[float]):
    req = request(1e6, [mineral(target=10, min_quantity=5)], [offer("a", 10, 100)])
    # The request asks for 30 s (its default); the budget, begun 7 s ago with 8 s, has less than 1 s.
    budget = TimeBudget(8.0, time.monotonic() - 7.0)
    result = allocate(req, EngineTuning(construct=False), budget=budget)
    assert given and all(0 < left < 1.0 for left in given)
    (finding,) = result.diagnostics
    assert "allow more than 8 s" in finding.message  # the budget's limit, not the request's


def test_without_a_budget_the_engine_counts_the_options_limit_from_the_call(given: list[float]):
    req = request(1e6, [mineral(target=10, min_quantity=5)], [offer("a", 10, 100)])
    result = allocate(req, EngineTuning(time_limit_s=300.0, max_time_limit_s=20.0, construct=False))
    assert given and all(15.0 < left <= 20.0 for left in given)  # clamped, less what is kept back
    assert "allow more than 20 s" in result.diagnostics[0].message


def test_the_heuristic_reserve_is_kept_back_from_highs(monkeypatch, given: list[float]):
    # From construct_min_offers offers the construction heuristic may run after HiGHS: its
    # reserve (at most 1 s, 6% of the limit) is not HiGHS's to spend.
    monkeypatch.setattr(engine_module, "POST_SOLVE_SHARE", 0.0)  # only the reserve kept back
    req = request(1e6, [mineral(target=10)], [offer(f"o{i}", 10 + i, 100) for i in range(3)])

    def first_run_given(options: EngineTuning) -> float:
        given.clear()
        budget = TimeBudget(10.0, time.monotonic())
        allocate(req, options, budget=budget)
        return given[0]

    first_run_given(EngineTuning(construct=False))  # (the first call loads what it needs)
    with_reserve = first_run_given(EngineTuning(construct_min_offers=1))
    without = first_run_given(EngineTuning(construct=False))
    assert without - with_reserve == pytest.approx(engine_module.FALLBACK_RESERVE_SHARE * 10.0, abs=0.05)
