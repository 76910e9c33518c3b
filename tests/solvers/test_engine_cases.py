"""Hand-checkable cases, one or more per feature of the contract.

Each expected figure is worked out by hand in the case's comment; the engine
must find it, and every result must also pass the independent check.
"""

from __future__ import annotations

import pytest

from models import Status
from solvers import allocate, check_result
from tests.builders import mineral, offer, quantities, request, tiers


def solve(req):
    result = allocate(req)
    assert check_result(req, result) == []
    return result


def test_budget_limits_a_single_offer():
    # $1,000 at $10/t buys 100 t of a 200 t target: coverage 0.5, all money spent.
    r = solve(request(1_000, [mineral(target=200)], [offer("a", 10, capacity=500)]))
    assert r.status is Status.OPTIMAL
    assert quantities(r) == {"a": pytest.approx(100)}
    assert r.coverage_score == pytest.approx(0.5)
    assert r.total_spend == pytest.approx(1_000)
    assert r.budget_remaining == pytest.approx(0, abs=1e-6 * 1_000)


def test_least_spend_once_the_target_is_covered():
    # Coverage is capped at 1, so stage two buys exactly the 50 t target: $500 of a $10,000 budget.
    r = solve(request(10_000, [mineral(target=50)], [offer("a", 10, capacity=500)]))
    assert r.coverage_score == pytest.approx(1)
    assert quantities(r) == {"a": pytest.approx(50)}
    assert r.total_spend == pytest.approx(500)


def test_cheaper_offer_first():
    # 60 t at $10, then 40 t at $20: $1,400 for the 100 t target.
    r = solve(request(10_000, [mineral(target=100)], [offer("cheap", 10, 60), offer("dear", 20, 60)]))
    assert quantities(r) == {"cheap": pytest.approx(60), "dear": pytest.approx(40)}
    assert r.total_spend == pytest.approx(1_400)


def test_tariff_makes_the_cheaper_list_price_dearer():
    # CN $10 x (1 + 100%) = $20 per t against AU $15 per t: AU supplies all 100 t.
    reqst = request(
        10_000,
        [mineral(target=100)],
        [offer("cn", 10, 200, country="CN"), offer("au", 15, 200, country="AU")],
        policy={"tariffs": {"cn": 1.0}},
    )
    r = solve(reqst)
    assert quantities(r) == {"au": pytest.approx(100)}
    assert r.total_spend == pytest.approx(1_500)


def test_tariff_is_reported_on_goods_not_on_fixed_cost():
    # 10 t x $10 = $100 goods, 50% tariff = $50, fixed $30 untaxed: spend $180.
    reqst = request(
        1_000,
        [mineral(target=10)],
        [offer("a", 10, 100, country="CN", fixed_cost=30)],
        policy={"tariffs": {"CN": 0.5}},
    )
    line = solve(reqst).allocations[0]
    assert (line.goods_cost, line.tariff_cost, line.fixed_cost, line.spend) == pytest.approx((100, 50, 30, 180))
    assert line.average_unit_price == pytest.approx(18)


def test_incremental_tiers_price_like_tax_brackets():
    # First 100 t at $10, next 100 t at $5: 200 t cost $1,500.
    reqst = request(100_000, [mineral(target=200)], [offer("a", None, 300, price_tiers=tiers((100, 10), (None, 5)))])
    r = solve(reqst)
    assert quantities(r) == {"a": pytest.approx(200)}
    assert r.total_spend == pytest.approx(1_500)


def test_incremental_discount_is_not_taken_before_the_first_tier_is_full():
    # $1,250 buys 100 t at $10 then 50 t at $5 = 150 t; a model that skipped tier 1 would claim 250 t.
    reqst = request(1_250, [mineral(target=300)], [offer("a", None, 300, price_tiers=tiers((100, 10), (None, 5)))])
    r = solve(reqst)
    assert quantities(r)["a"] == pytest.approx(150)
    assert r.coverage_score == pytest.approx(0.5)


def test_all_units_breakpoint_takes_the_lower_price():
    # All-units: 90 t cost 90 x $10 = $900, but 100 t cost 100 x $8 = $800 (lower price at the
    # breakpoint), so the cheapest way to reach a 90 t target is to buy 100 t.
    reqst = request(
        100_000,
        [mineral(target=90)],
        [offer("a", None, 300, discount="all_units", price_tiers=tiers((100, 10), (None, 8)))],
        objective="min_cost",
    )
    r = solve(reqst)
    assert quantities(r) == {"a": pytest.approx(100)}
    assert r.total_spend == pytest.approx(800)


def test_all_units_whole_quantity_at_one_price():
    # 150 t all-units with tiers ($10 to 100 t, $8 beyond): 150 x $8 = $1,200.
    reqst = request(
        100_000,
        [mineral(target=150)],
        [offer("a", None, 300, discount="all_units", price_tiers=tiers((100, 10), (None, 8)))],
        objective="min_cost",
    )
    assert solve(reqst).total_spend == pytest.approx(1_200)


def test_min_order_makes_the_cheap_offer_too_big():
    # A: $10/t but at least 100 t ($1,000); B: $12/t. A 50 t target costs $600 from B.
    reqst = request(
        100_000,
        [mineral(target=50)],
        [offer("a", 10, 500, min_order=100), offer("b", 12, 500)],
        objective="min_cost",
    )
    r = solve(reqst)
    assert quantities(r) == {"b": pytest.approx(50)}


def test_min_order_is_respected_when_used():
    # Only A, min order 100 t, target 50 t under min_cost: buy exactly 100 t.
    reqst = request(100_000, [mineral(target=50)], [offer("a", 10, 500, min_order=100)], objective="min_cost")
    assert quantities(solve(reqst)) == {"a": pytest.approx(100)}


def test_lots_round_up_to_whole_lots():
    # Lots of 30 t, target 100 t: 4 lots = 120 t at $10 = $1,200.
    reqst = request(100_000, [mineral(target=100)], [offer("a", 10, 500, lot_size=30)], objective="min_cost")
    r = solve(reqst)
    assert quantities(r) == {"a": 120}
    assert r.total_spend == pytest.approx(1_200)


def test_lots_under_a_budget_buy_whole_lots_only():
    # $1,000 at $10/t buys 100 t, but lots are 30 t: 3 lots = 90 t.
    r = solve(request(1_000, [mineral(target=200)], [offer("a", 10, 500, lot_size=30)]))
    assert quantities(r) == {"a": 90}


@pytest.mark.parametrize(
    ("target", "expected", "spend"),
    [
        (100, "b", 1_500),  # A: 100 x 10 + 1,000 = 2,000; B: 1,500
        (300, "a", 4_000),  # A: 300 x 10 + 1,000 = 4,000; B: 4,500
    ],
)
def test_fixed_cost_pays_off_only_at_volume(target, expected, spend):
    reqst = request(
        100_000,
        [mineral(target=target)],
        [offer("a", 10, 300, fixed_cost=1_000), offer("b", 15, 300)],
        objective="min_cost",
    )
    r = solve(reqst)
    assert set(quantities(r)) == {expected}
    assert r.total_spend == pytest.approx(spend)


def test_country_cap_limits_the_share():
    # CN is cheap but capped at 25% of the quantity: 25 t CN, 75 t AU.
    reqst = request(
        100_000,
        [mineral(target=100)],
        [offer("cn", 5, 500, country="CN"), offer("au", 10, 500)],
        objective="min_cost",
        policy={"country_caps": [{"countries": ["CN"], "max_share": 0.25}]},
    )
    assert quantities(solve(reqst)) == {"cn": pytest.approx(25), "au": pytest.approx(75)}


def test_country_cap_on_listed_minerals_only():
    # The cap names 'sb' only: cobalt still buys all from the cheap CN offer.
    reqst = request(
        100_000,
        [mineral("co", 100), mineral("sb", 100)],
        [
            offer("co-cn", 5, 500, "co", "CN"),
            offer("co-au", 10, 500, "co"),
            offer("sb-cn", 5, 500, "sb", "CN"),
            offer("sb-au", 10, 500, "sb"),
        ],
        objective="min_cost",
        policy={"country_caps": [{"countries": ["CN"], "max_share": 0.5, "minerals": ["sb"]}]},
    )
    q = quantities(solve(reqst))
    assert q["co-cn"] == pytest.approx(100)
    assert q["sb-cn"] == pytest.approx(50)


def test_supplier_share_forces_diversification():
    # No offer above 50%: 50 t from each despite the price difference.
    reqst = request(
        100_000,
        [mineral(target=100)],
        [offer("a", 5, 500), offer("b", 10, 500)],
        objective="min_cost",
        policy={"max_supplier_share": 0.5},
    )
    assert quantities(solve(reqst)) == {"a": pytest.approx(50), "b": pytest.approx(50)}


def test_a_share_is_kept_by_an_offer_far_smaller_than_the_need():
    # The budget buys 1 t of a 1e6 t need. A 0.01 t lot beside a larger offer cannot keep a 48%
    # share (the larger one would need over 0.0108 t to dilute it, and may supply at most 0.0093 t),
    # so nothing can be bought. Measured in the need, the 0.0007 t excess is 7e-10 of it, inside
    # the solver's tolerance; the rows are measured in what can be bought, the share row in the offer.
    reqst = request(
        1e11,
        [mineral("x", 1e6)],
        [offer("lot", 1e11, 0.01, "x", "AU", lot_size=0.01), offer("big", 1e11, 1e6, "x", "CA")],
        policy={"max_supplier_share": 0.4815},
    )
    assert quantities(solve(reqst)) == {}


def test_a_country_cap_is_kept_by_an_offer_far_smaller_than_the_need():
    # The capped 0.01 t lot is the cheap one, but 0.1% of at most 1 t is less than a lot: only "big" is bought.
    reqst = request(
        1e11,
        [mineral("x", 1e6)],
        [offer("lot", 1e9, 0.01, "x", "AU", lot_size=0.01), offer("big", 1e11, 1e6, "x", "CA")],
        policy={"country_caps": [{"countries": ["AU"], "max_share": 0.001}]},
    )
    assert quantities(solve(reqst)) == {"big": pytest.approx(1)}


def test_max_suppliers_limits_offers_per_mineral():
    # Three 60 t offers, one may be used: 60 of 100 t, coverage 0.6.
    reqst = request(
        100_000,
        [mineral(target=100)],
        [offer("a", 10, 60), offer("b", 11, 60), offer("c", 12, 60)],
        policy={"max_suppliers": 1},
    )
    r = solve(reqst)
    assert quantities(r) == {"a": pytest.approx(60)}
    assert r.coverage_score == pytest.approx(0.6)
    assert r.minerals[0].suppliers_used == 1


def test_max_spend_caps_one_mineral():
    # Cobalt capped at $300: 30 t; antimony takes what it needs from the rest.
    reqst = request(
        10_000,
        [mineral("co", 100, max_spend=300), mineral("sb", 100)],
        [offer("co-a", 10, 500, "co"), offer("sb-a", 10, 500, "sb")],
    )
    r = solve(reqst)
    assert quantities(r) == {"co-a": pytest.approx(30), "sb-a": pytest.approx(100)}
    assert r.minerals[0].spend == pytest.approx(300)


def test_max_quantity_caps_one_mineral():
    reqst = request(100_000, [mineral(target=100, max_quantity=40)], [offer("a", 10, 500)])
    assert quantities(solve(reqst)) == {"a": pytest.approx(40)}


def test_weights_decide_where_scarce_money_goes():
    # $1,000 buys 100 t of either; antimony's weight 3 beats cobalt's 1.
    reqst = request(
        1_000,
        [mineral("co", 100, weight=1), mineral("sb", 100, weight=3)],
        [offer("co-a", 10, 500, "co"), offer("sb-a", 10, 500, "sb")],
    )
    r = solve(reqst)
    assert quantities(r) == {"sb-a": pytest.approx(100)}
    assert r.coverage_score == pytest.approx(0.75)


def test_excluded_country_is_never_bought():
    reqst = request(
        100_000,
        [mineral(target=100)],
        [offer("cn", 1, 500, country="CN"), offer("au", 10, 50)],
        policy={"excluded_countries": ["cn"]},
    )
    r = solve(reqst)
    assert quantities(r) == {"au": pytest.approx(50)}
    assert any(f.code == "offer_unusable" and "CN" in f.message for f in r.diagnostics)


def test_min_cost_reaches_every_target():
    reqst = request(
        100_000,
        [mineral("co", 100), mineral("sb", 10)],
        [offer("co-a", 10, 500, "co"), offer("sb-a", 20, 500, "sb")],
        objective="min_cost",
    )
    r = solve(reqst)
    assert r.status is Status.OPTIMAL
    assert r.coverage_score is None
    assert r.objective_value == pytest.approx(1_200)
    assert [m.coverage for m in r.minerals] == pytest.approx([1, 1])


def test_premium_against_market_price():
    # Rio-style premium: $1,400/kg against a $900/kg market is +55.6%.
    reqst = request(100_000_000, [mineral("sc", 1_000, market_price=900)], [offer("rio", 1_400, 5_000, "sc", "CA")])
    line = solve(reqst).allocations[0]
    assert line.premium_vs_market == pytest.approx(1_400 / 900 - 1)


def test_small_spend_cap_inside_a_huge_budget_holds():
    # The scaling trap: a $2,700 graphite cap inside a $20B budget is a real constraint.
    # Three graphite offers fit under the cap one by one ($1,800 each) but not together, so
    # only the cap's own row can hold them to $2,700 = 3,000 kg at $0.9.
    graphite_offers = [offer(f"g{k}", 0.9, 2_000, "graphite", country) for k, country in enumerate(["AU", "CA", "US"])]
    reqst = request(
        20e9,
        [mineral("graphite", 10_000, unit="kg", max_spend=2_700), mineral("co", 1e6)],
        [*graphite_offers, offer("co-a", 30_000, 2e6, "co", fixed_cost=5e6)],
    )
    graphite = solve(reqst).minerals[0]
    assert graphite.spend <= 2_700 * (1 + 1e-9)
    assert graphite.quantity == pytest.approx(3_000)


def test_wide_ranges_of_units_and_prices():
    # Budget 1e11, prices from 1e-2 to 1e7, quantities from 1e-3 to 1e7 in one request.
    reqst = request(
        1e11,
        [mineral("sand", 1e7, unit="kg"), mineral("sc", 1e-3, unit="kg"), mineral("co", 5_000)],
        [
            offer("sand", 1e-2, 2e7, "sand"),
            offer("sc", 1e7, 1, "sc"),
            offer("co", 3e4, 1e4, "co"),
        ],
        objective="min_cost",
    )
    r = solve(reqst)
    q = quantities(r)
    assert q == {"sand": pytest.approx(1e7), "sc": pytest.approx(1e-3), "co": pytest.approx(5_000)}
    assert r.total_spend == pytest.approx(1e5 + 1e4 + 1.5e8)


def test_nothing_affordable_gives_an_empty_allocation():
    # A $100 budget against a $1,000 fixed cost: nothing can be bought; still a valid answer.
    r = solve(request(100, [mineral(target=10)], [offer("a", 1, 100, fixed_cost=1_000)]))
    assert r.status is Status.OPTIMAL
    assert r.allocations == []
    assert r.coverage_score == 0
    assert any(f.code == "offer_unusable" for f in r.diagnostics)


@pytest.mark.parametrize("budget", [600, 2_000])
def test_all_units_breakpoint_with_many_digits(budget):
    # A breakpoint at 100.123456789012: rounding the reported quantity must not push it
    # into the dearer tier. At the breakpoint the lower price ($5) applies: 500.62 for the target.
    breakpoint_ = 100.123456789012
    reqst = request(
        budget,
        [mineral(target=breakpoint_)],
        [offer("a", None, 300, discount="all_units", price_tiers=tiers((breakpoint_, 10), (None, 5)))],
    )
    r = solve(reqst)
    assert r.coverage_score == pytest.approx(1)
    assert r.total_spend == pytest.approx(5 * breakpoint_, rel=1e-6)


def test_tiers_reaching_past_capacity_price_at_their_own_rate():
    # Capacity 100 inside the first tier (up to 150 at $10): the $8 tier is out of reach.
    reqst = request(
        100_000,
        [mineral(target=100)],
        [offer("a", None, 100, discount="all_units", price_tiers=tiers((150, 10), (None, 8)))],
        objective="min_cost",
    )
    assert solve(reqst).total_spend == pytest.approx(1_000)


def test_breakpoint_exactly_at_capacity_takes_the_lower_price():
    # All-units, first tier up to 100 = capacity at $10, then $8: 100 t cost $800.
    reqst = request(
        100_000,
        [mineral(target=100)],
        [offer("a", None, 100, discount="all_units", price_tiers=tiers((100, 10), (None, 8)))],
        objective="min_cost",
    )
    assert solve(reqst).total_spend == pytest.approx(800)


# A breakpoint reached exactly, but by float arithmetic an ulp short of it.
# (budget, objective, target, tariff on AU, offer extras), the least spend.
AT_A_BREAKPOINT = {
    # 10 lots of 1.43 are 14.3, where the cheaper all-units tier starts (10 x 1.43 in floats: 14.299999999999999)
    "ten lots reach the tier at capacity": (1000, 0.0, 14.3, {"capacity": 14.3, "lot_size": 1.43}, 71.5),
    "the same within a budget only the cheaper tier fits": (100, 0.0, 14.3, {"capacity": 14.3, "lot_size": 1.43}, 71.5),
    # $55 buys 10 t at $5 x 1.1, where that tier starts ((55 / 1.1) / 5 in floats: 9.999999999999998)
    "a budget that exactly affords the tier's start": (55, 0.1, 10, {"capacity": 20}, 55),
}


@pytest.mark.parametrize("case", sorted(AT_A_BREAKPOINT))
@pytest.mark.parametrize("objective", ["min_cost", "max_coverage"])
def test_an_all_units_breakpoint_reached_exactly_gets_its_price(case, objective):
    budget, tariff, target, extra, spend = AT_A_BREAKPOINT[case]
    up_to = 10 if "budget that exactly" in case else 14.3
    priced = {"discount": "all_units", "price_tiers": tiers((up_to, 10), (None, 5)), **extra}
    capacity = priced.pop("capacity")
    reqst = request(
        budget,
        [mineral("m", target)],
        [offer("a", None, capacity, "m", **priced)],
        objective=objective,
        policy={"tariffs": {"AU": tariff}} if tariff else None,
    )
    r = allocate(reqst)
    assert r.status is Status.OPTIMAL
    assert check_result(reqst, r) == []
    assert r.total_spend == pytest.approx(spend)
    assert r.coverage_score == (pytest.approx(1.0) if objective == "max_coverage" else None)
