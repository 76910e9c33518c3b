"""Requests that cannot be met: the status says so and the findings say why."""

from __future__ import annotations

import pytest

from models import Severity, Status
from solvers import allocate
from tests.builders import mineral, offer, request


def floor_findings(result):
    return {f.mineral: f for f in result.diagnostics if f.code == "floor_unmet"}


def test_floor_above_supply_names_the_mineral_and_the_gap():
    # Antimony's floor is 2,000 t but the offers total 1,450 t.
    reqst = request(
        1e9,
        [mineral("sb", 2_500, name="antimony", min_quantity=2_000)],
        [offer("a", 50_000, 1_000, "sb", "US"), offer("b", 52_000, 450, "sb", "OM")],
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    assert r.allocations == []
    f = floor_findings(r)["sb"]
    assert f.severity is Severity.ERROR
    assert f.requirement == "min_quantity"
    assert (f.required, f.achievable, f.shortfall) == pytest.approx((2_000, 1_450, 550))
    assert "antimony's min_quantity 2,000 t cannot be met" in f.message
    assert "1,450 t" in f.message


def test_floor_beyond_the_budget_blames_the_budget():
    # $50M at $50,000/t buys 1,000 t; the floor is 2,000 t.
    reqst = request(50e6, [mineral("sb", 2_500, min_quantity=2_000)], [offer("a", 50_000, 5_000, "sb", "US")])
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    f = floor_findings(r)["sb"]
    assert f.achievable == pytest.approx(1_000)
    assert "budget" in f.message


def test_the_diagnosis_holds_the_supplier_share_that_the_floor_made_implicit():
    # 100 t wanted, offers of 50 t and 20 t, no offer above half the total. With the
    # floor met, neither offer could exceed half of it, and the model leaves the share
    # rows out; the diagnosis relaxes the floor, so it needs them: a takes at most b's
    # 20 t, 40 t in all, not 70 t.
    reqst = request(
        1e9,
        [mineral("sb", 100)],
        [offer("a", 10, 50, "sb"), offer("b", 12, 20, "sb")],
        objective="min_cost",
        policy={"max_supplier_share": 0.5},
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    f = floor_findings(r)["sb"]
    assert (f.achievable, f.shortfall) == pytest.approx((40, 60))


def test_min_cost_target_beyond_the_spend_cap():
    # min_cost needs every target: indium's $10M cap buys 25 t of a 222 t target at $400k/t.
    reqst = request(
        1e9,
        [mineral("in", 222, name="indium", max_spend=10e6), mineral("co", 10)],
        [offer("in-kr", 400_000, 500, "in", "KR"), offer("co-a", 30_000, 100, "co")],
        objective="min_cost",
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    found = floor_findings(r)
    assert set(found) == {"in"}
    assert found["in"].requirement == "target"
    assert found["in"].achievable == pytest.approx(25)
    assert "max_spend" in found["in"].message


def test_country_cap_that_excludes_the_only_source():
    # All rare-earth supply is Chinese and China is capped at 0%: the floor cannot be met at all.
    reqst = request(
        1e9,
        [mineral("ree", 100, min_quantity=50)],
        [offer("cn", 10, 1_000, "ree", "CN")],
        policy={"country_caps": [{"countries": ["CN"], "max_share": 0}]},
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    f = floor_findings(r)["ree"]
    assert f.achievable == pytest.approx(0)
    assert f.shortfall == pytest.approx(50)
    assert "0% cap on CN" in f.message


def test_only_the_mineral_that_cannot_be_met_is_named():
    reqst = request(
        1e9,
        [mineral("co", 100, min_quantity=100), mineral("in", 222, min_quantity=222)],
        [offer("co-a", 30_000, 500, "co"), offer("in-kr", 400_000, 150, "in", "KR")],
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    assert set(floor_findings(r)) == {"in"}
    assert floor_findings(r)["in"].achievable == pytest.approx(150)


def test_excluded_countries_leave_no_offer():
    reqst = request(
        1e9,
        [mineral("ge", 100, min_quantity=10)],
        [offer("cn", 2_000, 1_000, "ge", "CN")],
        policy={"excluded_countries": ["CN"]},
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    assert "no offer" in floor_findings(r)["ge"].message


def test_too_few_offers_for_the_supplier_share_is_the_reason_given():
    # No offer may supply more than 40% of the total: two offers can supply no total but zero.
    reqst = request(
        1e6,
        [mineral("x", 10)],
        [offer("a", 100, 3, "x", "AU"), offer("b", 100, 3, "x", "CA")],
        objective="min_cost",
        policy={"max_supplier_share": 0.4},
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    f = floor_findings(r)["x"]
    assert f.achievable == pytest.approx(0)
    assert "40% max_supplier_share needs at least 3 usable offers" in f.message
    assert "offers total" not in f.message  # the supply (6 t) is not what stops it


def test_a_supplier_share_too_small_to_invert_is_reported_not_a_crash():
    # 1 / 5e-324 is infinite as a float: no number of offers is enough.
    reqst = request(
        1e6,
        [mineral("x", 10)],
        [offer("a", 100, 3, "x", "AU"), offer("b", 100, 3, "x", "CA")],
        objective="min_cost",
        policy={"max_supplier_share": 5e-324},
    )
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    assert "max_supplier_share needs more usable offers" in floor_findings(r)["x"].message


def test_a_floor_far_below_the_target_is_not_lost_in_the_solver_tolerance():
    # 0.001 t beside a 1e7 t target is 1e-10 of it: the floor row is kept in its own units,
    # so buying nothing does not pass for reaching it.
    unaffordable = request(1.0, [mineral("x", 1e7, min_quantity=0.001)], [offer("a", 1e11, 1e7, "x")])
    r = allocate(unaffordable)
    assert r.status is Status.INFEASIBLE
    assert floor_findings(r)["x"].requirement == "min_quantity"


def test_a_target_above_max_quantity_names_max_quantity():
    reqst = request(1e6, [mineral("x", 10, max_quantity=4)], [offer("a", 100, 20, "x")], objective="min_cost")
    r = allocate(reqst)
    assert r.status is Status.INFEASIBLE
    f = floor_findings(r)["x"]
    assert (f.achievable, f.shortfall) == pytest.approx((4, 6))
    assert "under its max_quantity" in f.message
