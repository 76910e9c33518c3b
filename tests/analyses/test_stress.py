"""Stress tests and robust allocations: draws, hold and replan arithmetic, the robust model, the 422s."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from pydantic import ValidationError

from analyses.execution import LocalExecutor
from analyses.robust import robust_allocation, sampled_delivery
from analyses.stress import (
    BLOCK,
    Control,
    DrawSpace,
    hold_scores,
    measure_value,
    plan_problems,
    plan_quantities,
    replan_rows,
    stress_test,
)
from models import AllocationRequest
from models.changes import ExcludeCountries, ScaleCapacity, ScalePrices, apply_changes
from models.disruptions import DisruptionModel, Plan, RobustRequest, StressTestRequest, StressTestResult
from models.request import LARGEST, SMALLEST
from service import examples
from solvers import allocate, check_result
from tests.builders import mineral, offer, request


@pytest.fixture(scope="module")
def example() -> dict:
    return examples.catalogue()["dla-2025-disruption"]


@pytest.fixture(scope="module")
def request_(example) -> AllocationRequest:
    return AllocationRequest.model_validate(example["request"])


@pytest.fixture(scope="module")
def optimal(request_):
    return allocate(request_)


def tiny(plan_a: float = 60, plan_b: float = 40) -> dict:
    """One mineral (target 100), offer a from CN (60 t), offer b from AU (40 t): computable by hand."""
    return {
        "budget": 1e6,
        "minerals": [{"id": "m", "target": 100}],
        "suppliers": [
            {"id": "a", "mineral": "m", "country": "CN", "capacity": plan_a, "unit_price": 10},
            {"id": "b", "mineral": "m", "country": "AU", "capacity": plan_b, "unit_price": 20},
        ],
    }


def test_a_draw_depends_only_on_the_seed_and_its_index(request_, example):
    space = DrawSpace.of(request_, DisruptionModel.model_validate(example["disruptions"]))
    whole = space.draw_changes(11, 0, 2 * BLOCK + 300)
    pieces = []
    for start, stop in ((0, 7), (7, BLOCK + 5), (BLOCK + 5, 2 * BLOCK + 300)):
        pieces += space.draw_changes(11, start, stop)
    assert pieces == whole
    assert space.draw_changes(11, 1500, 1501)[0] == whole[1500]
    assert space.draw_changes(12, 0, 50) != whole[:50]


def test_a_draw_is_ordinary_changes_in_the_contract_order(request_, example):
    space = DrawSpace.of(request_, DisruptionModel.model_validate(example["disruptions"]))
    shocked = list(example["disruptions"]["price_shocks"])
    seen_cut = False
    for changes in space.draw_changes(3, 0, 400):
        kinds = [type(c) for c in changes]
        assert [c.mineral for c in changes[: len(shocked)]] == shocked
        assert all(k is ScalePrices for k in kinds[: len(shocked)])
        rest = kinds[len(shocked) :]
        if rest and rest[0] is ExcludeCountries:
            seen_cut = True
            rest = rest[1:]
        assert all(k is ScaleCapacity for k in rest)
        assert all(c.factor == 0 for c in changes[len(changes) - len(rest) :])
        apply_changes(request_, changes)  # every draw applies to the request
    assert seen_cut


def test_hold_by_hand_on_a_tiny_request():
    test = StressTestRequest.model_validate(
        {"request": tiny(), "disruptions": {"countries": {"CN": 0.5}}, "draws": 4000, "seed": 5}
    )
    result = stress_test(test)
    hold = result.hold
    assert hold.base_coverage_score == 1.0  # the optimal plan buys both offers: 100 t
    # every draw is 1.0 (CN delivers) or 0.4 (only b's 40 t)
    details = stress_test(test.model_copy(update={"details": True, "draws": 500})).draw_details
    assert {d.hold.coverage_score for d in details} == {1.0, 0.4}
    (driver,) = hold.drivers
    assert driver.event == "country CN"
    assert driver.mean_score_loss == pytest.approx(0.6)
    assert hold.coverage_score.mean == pytest.approx(1 - 0.6 * driver.frequency)
    assert hold.minerals[0].p_below_50 == pytest.approx(driver.frequency)
    assert hold.coverage_score.min == 0.4 and hold.coverage_score.max == 1.0
    assert [w.coverage_score for w in hold.worst] == [0.4] * 10
    assert all(w.changes == [ExcludeCountries(op="exclude_countries", countries=["CN"])] for w in hold.worst)


def test_a_country_at_probability_one_is_the_exclusion_variant(request_, optimal):
    test = StressTestRequest.model_validate(
        {"request": request_.model_dump(), "disruptions": {"countries": {"CN": 1.0}}, "draws": 12, "mode": "both"}
    )
    result = stress_test(test, base=optimal)
    excluded = allocate(apply_changes(request_, [ExcludeCountries(op="exclude_countries", countries=["CN"])]).request)
    assert result.replan.coverage_score.min == result.replan.coverage_score.max
    assert result.replan.coverage_score.mean == pytest.approx(excluded.coverage_score, abs=1e-9)
    assert result.replan.total_spend.mean == pytest.approx(excluded.total_spend, rel=1e-9)
    # hold: the optimal plan less what it buys from China
    quantities = plan_quantities(request_, optimal)
    kept = [q if o.country != "CN" else 0.0 for q, o in zip(quantities, request_.suppliers, strict=True)]
    by_hand = 0.0
    for m in request_.minerals:
        bought = sum(q for q, o in zip(kept, request_.suppliers, strict=True) if o.mineral == m.id)
        by_hand += m.weight * min(1.0, bought / m.target)
    by_hand /= sum(m.weight for m in request_.minerals)
    assert result.hold.coverage_score.max == pytest.approx(by_hand, abs=1e-12)
    assert result.hold.coverage_score.min == pytest.approx(by_hand, abs=1e-12)


def test_probability_zero_is_the_base(request_, optimal):
    test = StressTestRequest.model_validate(
        {
            "request": request_.model_dump(),
            "disruptions": {"countries": {"CN": 0.0}, "supplier_failure": 0.0},
            "draws": 10,
            "mode": "both",
        }
    )
    result = stress_test(test, base=optimal)
    for summary in (result.hold, result.replan):
        assert summary.coverage_score.min == summary.coverage_score.max
        assert summary.coverage_score.mean == pytest.approx(optimal.coverage_score, abs=1e-9)
        assert summary.drivers == []
    assert result.value_of_flexibility == pytest.approx(0.0, abs=1e-9)


def test_replan_draws_equal_fresh_solves_of_their_changed_requests(request_, example):
    space = DrawSpace.of(request_, DisruptionModel.model_validate(example["disruptions"]))
    items = space.draw_changes(21, 0, 6)
    rows = replan_rows(request_, items)
    for changes, (status, score, spend, coverage) in zip(items, rows, strict=True):
        fresh = allocate(apply_changes(request_, changes).request)
        assert status == fresh.status.value
        assert score == pytest.approx(fresh.coverage_score, abs=1e-6)
        assert spend == pytest.approx(fresh.total_spend, rel=1e-6)
        assert coverage == pytest.approx([m.coverage for m in fresh.minerals], abs=1e-6)


def test_a_batch_answers_the_same_after_other_batches_of_its_base_in_the_process(request_, example):
    """A process keeps its Resolver between batches of one base: each batch still answers as on a new one."""
    space = DrawSpace.of(request_, DisruptionModel.model_validate(example["disruptions"]))
    first, second = space.draw_changes(5, 0, 12), space.draw_changes(5, 12, 24)
    replan_rows(request_, first)
    after = replan_rows(request_, second)  # on the Resolver the first batch left, restarted
    alone: list = []
    thread = threading.Thread(target=lambda: alone.extend(replan_rows(request_, second)))  # a new thread: a new one
    thread.start()
    thread.join()
    assert after == alone


def test_observed_frequencies_are_within_statistical_bounds(request_):
    model = DisruptionModel.model_validate(
        {
            "countries": {"CN": 0.3, "AU": 0.05},
            "suppliers": {"sc-rio": 0.2},
            "supplier_failure": 0.02,
            "price_shocks": {"cobalt": 0.4},
        }
    )
    space = DrawSpace.of(request_, model)
    n = 20_000
    cut = np.concatenate([c for _, c, _, _ in space.draws(9, 0, n)])
    failed = np.concatenate([f for _, _, f, _ in space.draws(9, 0, n)])
    factors = np.concatenate([x for _, _, _, x in space.draws(9, 0, n)])[:, 0]

    def within(observed: float, p: float) -> bool:
        return abs(observed - p) <= 5 * math.sqrt(p * (1 - p) / n)

    assert within(cut[:, 0].mean(), 0.3) and within(cut[:, 1].mean(), 0.05)
    rio = space.offer_ids.index("sc-rio")
    assert within(failed[:, rio].mean(), 0.2)
    others = np.delete(failed, rio, axis=1)
    assert abs(others.mean() - 0.02) <= 5 * math.sqrt(0.02 * 0.98 / others.size)
    sd = math.sqrt(math.exp(0.4**2) - 1)  # a lognormal of mean 1 and sigma 0.4
    assert abs(factors.mean() - 1) <= 5 * sd / math.sqrt(n)
    assert abs(np.log(factors).std() - 0.4) < 0.01


def test_a_price_shock_never_takes_a_price_out_of_the_contracts_range():
    # Prices at both ends of the range and the largest sigma: unclamped, nine draws in ten
    # would take the 2e-06 price below 1e-06, and one in twenty-five the 5e14 one above 1e15.
    reqst = request(
        1e15,
        [mineral("x", 10), mineral("y", 10)],
        [
            offer("cheap", 2e-6, 10, "x"),
            offer("tiered", None, 10, "x", price_tiers=[{"up_to": 5, "unit_price": 5e14}, {"unit_price": 1}]),
            offer("y", 1.0, 10, "y"),
        ],
    )
    model = DisruptionModel.model_validate({"price_shocks": {"x": 3.0}})
    space = DrawSpace.of(reqst, model)
    factors = np.concatenate([x for _, _, _, x in space.draws(1, 0, 2_000)])[:, 0]
    assert (factors * 2e-6 >= SMALLEST).all() and (factors * 5e14 <= LARGEST).all()
    assert (factors * 2e-6 < 2 * SMALLEST).any() and (factors * 5e14 > LARGEST / 2).any()  # both ends are reached
    for changes in space.draw_changes(1, 0, 200):
        assert apply_changes(reqst, changes).request.suppliers[0].unit_price >= SMALLEST


def test_the_time_limit_answers_with_what_is_done(request_, example, optimal):
    test = StressTestRequest.model_validate(
        {"request": example["request"], "disruptions": example["disruptions"], "draws": 5000, "mode": "replan"}
    )
    result = stress_test(test, LocalExecutor(), time_limit_s=1.0, base=optimal)
    assert not result.complete
    assert 0 < result.done < 5000
    assert result.replan.draws == result.done
    assert "time limit" in result.message


def test_a_cancelled_test_stops(example):
    control = Control()

    def progress(done: int, total: int) -> None:
        if done >= 16:
            control.cancel.set()

    control.on_progress = progress
    test = StressTestRequest.model_validate(
        {"request": example["request"], "disruptions": example["disruptions"], "draws": 400, "mode": "replan"}
    )
    result = stress_test(test, LocalExecutor(), control=control)
    assert not result.complete
    assert 16 <= result.done < 400


def test_a_test_cancelled_before_any_draw_has_no_figures_and_says_so(example, optimal):
    control = Control()
    control.cancel.set()
    test = StressTestRequest.model_validate(
        {"request": example["request"], "disruptions": example["disruptions"], "draws": 100, "mode": "both"}
    )
    result = stress_test(test, LocalExecutor(), control=control, base=optimal)
    assert (result.done, result.complete) == (0, False)
    assert result.hold is None and result.replan is None and result.value_of_flexibility is None
    assert "None of the 100 draws" in result.message
    StressTestResult.model_validate(result.model_dump(mode="json"))  # (as the schema describes it)


def test_value_of_flexibility_is_replan_less_hold(example):
    test = StressTestRequest.model_validate(
        {"request": example["request"], "disruptions": example["disruptions"], "draws": 20, "mode": "both"}
    )
    result = stress_test(test)
    assert result.value_of_flexibility == result.replan.coverage_score.mean - result.hold.coverage_score.mean
    assert sum(result.replan.statuses.values()) == 20


def test_a_given_plan_is_held(request_):
    plan = Plan.model_validate({"allocations": [{"supplier_id": "co-ca", "quantity": 1500}]})
    assert plan_problems(request_, plan) == []
    test = StressTestRequest.model_validate(
        {"request": request_.model_dump(), "plan": plan.model_dump(), "disruptions": {"countries": {"CA": 1.0}}}
    )
    result = stress_test(test)
    assert result.hold.base_coverage_score == pytest.approx(3 * 0.1 / sum(m.weight for m in request_.minerals))
    assert result.hold.coverage_score.max == 0.0


@pytest.mark.parametrize("measure", ["expected", "cvar"])
def test_the_robust_plan_is_at_least_as_good_in_sample(example, optimal, measure):
    robust = RobustRequest.model_validate(
        {
            "request": example["request"],
            "disruptions": example["disruptions"],
            "draws": 120,
            "seed": 4,
            "measure": measure,
            "alpha": 0.2,
        }
    )
    result = robust_allocation(robust)
    request = robust.request
    assert check_result(request, result) == []
    assert result.risk.objective["robust"] >= result.risk.objective["optimal"] - 1e-9
    # the objective is the measure of the plan's hold scores on the sampled draws
    scores = hold_scores(request, robust.disruptions, plan_quantities(request, result), 4, 120)
    assert result.risk.objective["robust"] == pytest.approx(measure_value(scores, measure, 0.2), abs=1e-12)
    assert sampled_delivery(robust).shape == (120, len(request.suppliers))
    assert result.risk.out_of_sample.seed == 5


def test_the_example_robust_plan_has_a_higher_p5(example):
    robust = RobustRequest.model_validate(
        {"request": example["request"], "disruptions": example["disruptions"], "draws": 200, "measure": "cvar"}
    )
    risk = robust_allocation(robust).risk
    assert risk.out_of_sample.robust.p5 > risk.out_of_sample.optimal.p5


def test_cvar_by_hand():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 1.0])
    assert measure_value(scores, "cvar", 0.4) == pytest.approx(0.15)
    assert measure_value(scores, "cvar", 0.3) == pytest.approx((0.1 + 0.5 * 0.2) / 1.5)
    assert measure_value(scores, "expected", 0.3) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("disruptions", "path"),
    [
        ({"countries": {"CN": 1.5}}, ("disruptions", "countries", "CN")),
        ({"countries": {"RU": 0.5}}, ("disruptions", "countries", "RU")),
        ({"countries": {"XX": 0.5}}, ("disruptions", "countries", "XX")),
        ({"suppliers": {"nope": 0.5}}, ("disruptions", "suppliers", "nope")),
        ({"suppliers": {"co-ca": -0.1}}, ("disruptions", "suppliers", "co-ca")),
        ({"supplier_failure": 2}, ("disruptions", "supplier_failure")),
        ({"price_shocks": {"gold": 0.2}}, ("disruptions", "price_shocks", "gold")),
        ({"price_shocks": {"cobalt": -1}}, ("disruptions", "price_shocks", "cobalt")),
    ],
)
def test_bad_disruption_models_name_their_path(example, disruptions, path):
    for model in (StressTestRequest, RobustRequest):
        with pytest.raises(ValidationError) as err:
            model.model_validate({"request": example["request"], "disruptions": disruptions})
        assert path in [tuple(e["loc"])[: len(path)] for e in err.value.errors()]


def test_every_problem_of_a_disruption_model_is_named_at_once(example):
    bad = {"countries": {"CN": 1.5, "RU": 0.1, "xx": 0.2}, "suppliers": {"zz": 0.1}, "price_shocks": {"gold": 9}}
    with pytest.raises(ValidationError) as err:
        StressTestRequest.model_validate({"request": example["request"], "disruptions": bad})
    paths = [tuple(e["loc"])[:3] for e in err.value.errors()]
    assert sorted(paths) == sorted(
        [("disruptions", "countries", k) for k in ("CN", "RU", "xx")]
        + [
            ("disruptions", "suppliers", "zz"),
            ("disruptions", "price_shocks", "gold"),  # (sigma over 3: one problem at that path)
        ]
    )
