"""bench.contract: the baselines' tiers price every quantity as the contract does (a benchmark tool)."""

from __future__ import annotations

import pytest

from bench.contract import _tiers, contract
from bench.instances import named
from models import SupplierOffer
from solvers.prepare.pricing import goods_cost
from tests.builders import offer


def _price(lo: list[float], hi: list[float], price: list[float], all_units: bool, q: float) -> float:
    """Goods cost of ``q`` under the baseline's tiers, as its model prices it at best."""
    if all_units:
        return q * min(p for a, b, p in zip(lo, hi, price) if a <= q <= b)
    return sum(p * (min(q, b) - a) for a, b, p in zip(lo, hi, price) if q > a)


def _all_units(capacity: float, lot_size: float | None = None) -> SupplierOffer:
    tiers = [{"up_to": 100.0, "unit_price": 10.0}, {"up_to": 200.0, "unit_price": 8.0}, {"unit_price": 6.0}]
    lots = {} if lot_size is None else {"lot_size": lot_size}
    return SupplierOffer.model_validate(offer("a", None, capacity, price_tiers=tiers, discount="all_units", **lots))


def test_a_tier_that_starts_beyond_the_bound_is_left_out():
    # 3 lots of 60 within a capacity of 250: the bound is 180, inside the 8.0 tier. The 6.0
    # tier starts at 200, beyond it: 180 costs 8.0 each, not 6.0 (found on 20x100 seed 7).
    o = _all_units(250.0, lot_size=60.0)
    lo, hi, price = _tiers(o, 180.0)
    assert (lo, hi, price) == ([0.0, 100.0], [100.0, 180.0], [10.0, 8.0])
    assert _price(lo, hi, price, True, 180.0) == goods_cost(o, 180.0) == 1_440.0


def test_an_all_units_breakpoint_at_the_bound_keeps_the_lower_price():
    o = _all_units(250.0)
    lo, hi, price = _tiers(o, 200.0)
    assert (lo, hi, price) == ([0.0, 100.0, 200.0], [100.0, 200.0, 200.0], [10.0, 8.0, 6.0])
    assert _price(lo, hi, price, True, 200.0) == goods_cost(o, 200.0) == 1_200.0


@pytest.mark.parametrize("case", ["10x50-max_coverage", "20x100-max_coverage", "10x50-min_cost"])
@pytest.mark.parametrize("seed", [1, 7])
def test_every_quantity_up_to_the_bound_is_priced_as_the_contract_prices_it(case, seed):
    request = named(case, seed).request
    c = contract(request)
    checked = 0
    for od in c.offers:
        o = request.suppliers[od.index]
        if o.price_tiers is None:
            continue
        points = sorted({*od.lo, *od.hi, od.U, *((a + b) / 2 for a, b in zip(od.lo, od.hi))})
        for q in (q for q in points if 0 < q <= od.U):
            assert _price(od.lo, od.hi, od.price, od.all_units, q) == pytest.approx(goods_cost(o, q), rel=1e-12), (
                o.id,
                q,
            )
            checked += 1
    assert checked > 100
