"""bench.instances' hard family and bench.hard's loss against the best known."""

from __future__ import annotations

from bench.hard import cpu_limited, loss, with_losses
from bench.instances import HARD_SIZES, hard_request, hard_suite
from bench.profile import option_value
from models import AllocationRequest
from solvers import heuristic_mip_s


def test_hard_requests_carry_minimum_orders_lots_and_the_tight_policy():
    body = hard_request(10, 40, "min_cost", seed=3, time_limit_s=10.0)
    AllocationRequest.model_validate(body)
    offers = body["suppliers"]
    assert len(offers) == 400
    assert all(0.3 * o["capacity"] * 0.999 <= o["min_order"] <= o["capacity"] for o in offers)
    assert sum("lot_size" in o for o in offers) > len(offers) / 2
    assert body["policy"]["max_suppliers"] == 2 and body["policy"]["max_supplier_share"] == 0.5
    assert body["options"]["time_limit_s"] == 10.0
    assert hard_request(10, 40, "min_cost", seed=3, time_limit_s=10.0) == body  # seeded
    assert hard_request(10, 40, "min_cost", seed=4, time_limit_s=10.0) != body


def test_the_hard_family_spans_40_to_3000_offers_both_objectives_at_their_own_limits():
    cases = hard_suite(seeds=(1,), largest=100)
    assert [(c.offers, c.objective) for c in cases] == [
        (40, "max_coverage"),
        (40, "min_cost"),
        (100, "max_coverage"),
        (100, "min_cost"),
    ]
    assert [c.time_limit_s for c in cases] == [5.0] * 4
    assert HARD_SIZES[-1][0] * HARD_SIZES[-1][1] == 3000


def test_loss_is_the_share_of_the_best_known_given_up():
    assert loss("max_coverage", 0.9, 1.0) == 0.09999999999999998
    assert loss("min_cost", 110.0, 100.0) == 0.1
    assert loss("min_cost", None, 100.0) == 1.0  # no allocation
    assert loss("max_coverage", 0.5, None) is None  # no best known
    assert loss("min_cost", 90.0, 100.0) == 0.0  # better than the best known: no loss


def test_a_better_value_seen_at_the_limit_becomes_the_best_known():
    row = {"case": "c", "objective": "min_cost", "before_value": None, "after_value": 90.0}
    (out,) = with_losses([row], {"c": {"best": 100.0}})
    assert out["after_loss"] == 0.0 and out["before_loss"] == 1.0 and out["best_from_runs"]
    (kept,) = with_losses([{**row, "after_value": 100.00001}], {"c": {"best": 100.0}})
    assert "best_from_runs" not in kept and kept["after_loss"] > 0


def test_the_heuristics_mip_time_is_half_what_the_engine_keeps_back_for_it():
    # 6% of the limit, at most 1 s, kept back; half of it for the per-mineral MIPs, 0.05 s at least
    assert heuristic_mip_s(5.0) == 0.5 * 0.06 * 5.0
    assert heuristic_mip_s(20.0) == 0.5
    assert heuristic_mip_s(0.5) == 0.05


def test_highs_options_from_the_command_line_keep_their_types():
    assert option_value("0.3") == 0.3
    assert option_value("true") is True and option_value("False") is False
    assert option_value("5") == 5 and isinstance(option_value("5"), int)
    assert option_value("on") == "on"


def test_a_cpu_limited_first_stage_stops_at_its_cpu_time_or_proves_its_gap():
    case = hard_suite(seeds=(1,), largest=40)[1]  # 40 offers, min_cost: proven in well under a second of CPU
    done = cpu_limited(case.request, 30.0)
    assert done["finished"] and done["objective"] is not None
    assert abs(done["objective"] - done["bound"]) <= 1e-4 * abs(done["objective"])
    (big,) = [c for c in hard_suite(seeds=(1,), largest=400) if c.name == "hard-400-min_cost-s1"]
    cut = cpu_limited(big.request, 0.2)  # not proven in 0.2 s: interrupted soon after
    assert not cut["finished"] and cut["cpu_s"] < 5.0
