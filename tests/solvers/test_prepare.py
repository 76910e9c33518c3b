"""solvers.prepare.instance works out every offer at once, in numpy: it must give what the scalar rules give.

The reference below is the contract's rules written offer by offer, on the tiers
``solvers.prepare.pricing.tiers`` makes, one offer at a time, independently of prepare's numpy
passes. Every field of every offer must be equal, floats
to the last bit: the model is built from them.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import AllocationRequest, Discount
from solvers.prepare.instance import CostShape, prepare, whole_lots
from solvers.prepare.pricing import tariff_rate, tiers
from solvers.solve.guide import cheapest_offers

COUNTRIES = ["AU", "CA", "CN", "US"]


def _reference(request: AllocationRequest) -> tuple[list[tuple], dict[int, str]]:
    """(index, mineral, tariff, bound, tiers, shape, lots, min_lots) of each usable offer; why the others are not."""
    policy = request.policy
    out, dropped = [], {}
    minerals = {m.id: j for j, m in enumerate(request.minerals)}
    kinked = {o.mineral for o in request.suppliers if o.min_order > 0 or o.lot_size or o.discount == "all_units"}
    for i, offer in enumerate(request.suppliers):
        if offer.country in policy.excluded_countries:
            dropped[i] = f"country {offer.country} is excluded by policy"
            continue
        m = request.minerals[minerals[offer.mineral]]
        money = request.budget if m.max_spend is None else min(request.budget, m.max_spend)
        room = math.inf
        if m.max_quantity is not None:
            room = m.max_quantity
            if policy.max_supplier_share < 1:
                room = min(room, policy.max_supplier_share * m.max_quantity)
        if m.id not in kinked:  # a plain mineral needs no more than max(target, min_quantity) in all
            useful = max(m.target, m.min_quantity)
            room = min(room, useful if policy.max_supplier_share >= 1 else policy.max_supplier_share * useful)
        rate = tariff_rate(request, offer.country)
        money = (money - offer.fixed_cost) / (1 + rate)
        priced = tiers(offer)
        bound = min(offer.capacity, room, _affordable(priced, offer.discount, money))
        if bound <= 0:
            dropped[i] = "even the smallest purchase exceeds the budget or the mineral's spend cap"
            continue
        lots, min_lots = None, 0
        if offer.lot_size is not None:
            lots = math.floor(bound / offer.lot_size * (1 + 1e-12))
            if lots < 1:
                dropped[i] = "not even one lot fits the capacity, caps and budget"
                continue
            bound = float(whole_lots(lots, offer.lot_size))  # (10 x 1.43 is 14.3, as the planner means it)
            min_lots = max(1, math.ceil(offer.min_order / offer.lot_size * (1 - 1e-12)))
            if min_lots > lots:
                dropped[i] = "the minimum order does not fit the capacity, caps and budget"
                continue
        elif offer.min_order > bound * (1 + 1e-12):
            dropped[i] = "the minimum order does not fit the capacity, caps and budget"
            continue
        cut = _cut(priced, bound, offer.discount)
        out.append((i, minerals[offer.mineral], rate, bound, cut, _shape(cut, offer.discount), lots, min_lots))
    return out, dropped


def _affordable(priced: list, discount: Discount, money: float) -> float:
    if money <= 0:
        return 0.0
    if discount is Discount.ALL_UNITS and len(priced) > 1:
        best = 0.0
        for lo, hi, price in priced:
            q = min(hi, money / price)
            if lo * (1 - 1e-12) <= q < lo:  # a tier's start, affordable to float noise
                q = lo
            if q >= lo:
                best = max(best, q)
        return best
    spent = 0.0
    for lo, hi, price in priced:
        cost = price * (hi - lo)
        if spent + cost >= money:
            return lo + (money - spent) / price
        spent += cost
    return priced[-1].hi


def _cut(priced: list, bound: float, discount: Discount) -> list:
    cut = []
    for lo, hi, price in priced:
        if lo > bound:
            break
        hi = min(hi, bound)
        if hi > lo or discount is not Discount.INCREMENTAL:
            cut.append((lo, hi, price))
    return cut


def _shape(cut: list, discount: Discount) -> str:
    if len(cut) == 1:
        return CostShape.LINEAR
    if discount is Discount.ALL_UNITS:
        return CostShape.ALL_UNITS
    return CostShape.INCREMENTAL if any(b[2] < a[2] for a, b in pairwise(cut)) else CostShape.LINEAR


def _exact(value: Any) -> Any:
    """Floats as their repr (to the last bit, and 0.0 apart from -0.0), inside lists and tuples too."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return [_exact(v) for v in value]
    return value


@st.composite
def _offer(draw, k: int, minerals: int) -> dict[str, Any]:
    capacity = draw(st.sampled_from([1.0, 7.5, 10.0, 40.0, 333.3]))
    offer: dict[str, Any] = {
        "id": f"o{k}",
        "mineral": f"m{draw(st.integers(0, minerals - 1))}",
        "country": draw(st.sampled_from(COUNTRIES)),
        "capacity": capacity,
    }
    count = draw(st.integers(0, 10))
    if count == 0:
        offer["unit_price"] = draw(st.sampled_from([0.5, 3.0, 12.25, 100.0]))
    else:
        # breakpoints inside, exactly at and past the capacity; prices rising and falling
        ends = sorted(set(draw(st.lists(st.sampled_from([0.1, 0.25, 0.5, 0.999, 1.0, 1.5, 3.0]), min_size=count))))
        ups: list[float | None] = [capacity * e for e in ends]
        if ups[-1] < capacity or draw(st.booleans()):
            ups[-1] = None  # the last tier reaches the capacity
        prices = draw(st.lists(st.sampled_from([1.0, 2.5, 4.0, 9.0, 9.5]), min_size=len(ups), max_size=len(ups)))
        offer["price_tiers"] = [{"up_to": u, "unit_price": p} for u, p in zip(ups, prices, strict=True)]
        offer["discount"] = draw(st.sampled_from(["incremental", "all_units"]))
    if draw(st.booleans()):
        offer["min_order"] = capacity * draw(st.sampled_from([0.0, 0.2, 0.75, 1.0]))
    if draw(st.integers(0, 2)) == 0:
        offer["lot_size"] = capacity / draw(st.sampled_from([1, 3, 4, 7]))
    if draw(st.booleans()):
        offer["fixed_cost"] = draw(st.sampled_from([0.0, 5.0, 60.0, 1e4]))
    return offer


@st.composite
def _requests(draw) -> AllocationRequest:
    minerals = draw(st.integers(1, 3))
    body: dict[str, Any] = {
        "budget": draw(st.sampled_from([10.0, 75.0, 500.0, 1e6])),  # small ones cut bounds mid-tier
        "objective": draw(st.sampled_from(["max_coverage", "min_cost"])),
        "minerals": [],
        "suppliers": [draw(_offer(k, minerals)) for k in range(draw(st.integers(1, 8)))],
        "policy": {
            "tariffs": {"CN": draw(st.sampled_from([0.0, 0.25, 1.0])), "US": 0.1},
            "excluded_countries": draw(st.lists(st.sampled_from(COUNTRIES), max_size=1)),
            "max_supplier_share": draw(st.sampled_from([0.5, 1.0])),
        },
    }
    for j in range(minerals):
        mineral: dict[str, Any] = {"id": f"m{j}", "target": draw(st.sampled_from([5.0, 50.0]))}
        if draw(st.booleans()):
            mineral["max_spend"] = draw(st.sampled_from([3.0, 40.0, 900.0]))
        if draw(st.booleans()):
            mineral["max_quantity"] = draw(st.sampled_from([6.0, 80.0]))
        body["minerals"].append(mineral)
    return AllocationRequest.model_validate(body)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(_requests())
def test_every_offer_is_what_the_scalar_rules_give(request: AllocationRequest) -> None:
    instance = prepare(request)
    expected, dropped = _reference(request)
    assert instance.dropped == dropped
    got = [(o.index, o.mineral, o.tariff, o.bound, o.tiers, o.shape, o.lots, o.min_lots) for o in instance.offers]
    assert _exact(got) == _exact(expected)
    assert [type(t).__name__ for o in instance.offers for t in o.tiers] == ["Tier"] * sum(len(e[4]) for e in expected)
    for j, md in enumerate(instance.minerals):
        assert md.offers == [p for p, o in enumerate(instance.offers) if o.mineral == j]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(_requests(), st.integers(1, 3))
def test_the_cheapest_offers_are_those_the_scalar_cost_sorts_first(request: AllocationRequest, per: int) -> None:
    instance = prepare(request)

    def unit_cost(p: int) -> float:
        o = instance.offers[p]
        return min(t.price for t in o.tiers) * (1.0 + o.tariff) + o.offer.fixed_cost / o.bound

    expected = {p for md in instance.minerals for p in sorted(md.offers, key=unit_cost)[:per]}
    assert cheapest_offers(instance, per) == expected


def test_an_offers_data_is_made_when_first_asked_for_and_kept() -> None:
    body = {
        "budget": 1e6,
        "minerals": [{"id": "co", "target": 10.0}],
        "suppliers": [
            {"id": f"s{k}", "mineral": "co", "country": "AU", "capacity": 5.0, "unit_price": 1.0 + k} for k in range(4)
        ],
    }
    offers = prepare(AllocationRequest.model_validate(body)).offers
    assert len(offers) == 4 and offers._made == [None] * 4
    assert offers[-1] is offers[3] and offers[3].offer.id == "s3"
    assert [o.offer.id for o in offers[1:3]] == ["s1", "s2"]
    assert sum(made is not None for made in offers._made) == 3
    assert [o.index for o in offers] == [0, 1, 2, 3]
    with pytest.raises(IndexError):
        offers[4]


def test_lot_counts_past_an_int64_are_exact() -> None:
    # 1e21 lots of 1e-6 t (the largest capacity in the smallest lots the contract allows): an
    # int64 count would wrap to a negative number, and the offer would silently lose its lot rule.
    body = {
        "budget": 1e15,
        "minerals": [{"id": "co", "target": 10.0}],
        "suppliers": [
            {"id": "big", "mineral": "co", "country": "AU", "capacity": 1e15, "unit_price": 1.0, "lot_size": 1e-6},
            {
                "id": "min",
                "mineral": "co",
                "country": "AU",
                "capacity": 1e15,
                "unit_price": 1.0,
                "lot_size": 3e-6,
                "min_order": 5e14,
            },
        ],
    }
    request = AllocationRequest.model_validate(body)
    expected, _ = _reference(request)
    offers = prepare(request).offers
    assert [(o.lots, o.min_lots) for o in offers] == [(e[6], e[7]) for e in expected]
    assert offers[0].lots == math.floor(1e15 / 1e-6 * (1 + 1e-12)) and offers[0].lots > 2**63
    assert all(type(o.lots) is int and type(o.min_lots) is int for o in offers)
