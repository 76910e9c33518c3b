"""From a validated request to the plain data the model is built from.

This is the presolve that needs no solver: offers from excluded countries
and offers that cannot be afforded or cannot meet their own minimum order are
dropped; every remaining offer gets the tightest upper bound on its quantity
that the data allows (capacity, the mineral's max_quantity, the share rule,
and what the budget and the mineral's spend cap can pay for). Quantities in
the model are then fractions of that bound, which keeps every column scaled
to [0, 1] whatever the units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

from models import AllocationRequest, Discount, Mineral, Objective, SupplierOffer
from solvers.pricing import Tier, tariff_rate, tier, tiers

# Quantities below this fraction of an offer's bound are treated as zero.
ZERO = 1e-9


class CostShape:
    """How an offer's goods cost depends on its quantity, as the model sees it."""

    LINEAR = "linear"  # one price, or incremental tiers with rising prices (convex)
    INCREMENTAL = "incremental"  # incremental tiers that need order binaries
    ALL_UNITS = "all_units"  # one tier chosen for the whole quantity


@dataclass(slots=True)
class OfferData:
    index: int  # position in request.suppliers
    offer: SupplierOffer
    mineral: int  # position in request.minerals
    tariff: float
    bound: float  # tightest upper bound on quantity, > 0
    tiers: list[Tier]  # cut at ``bound``
    shape: str
    lots: int | None  # most whole lots, when the offer sells in lots
    min_lots: int  # fewest whole lots in an order (0 without lots)

    @property
    def money_factor(self) -> float:
        return 1.0 + self.tariff


@dataclass(slots=True)
class MineralData:
    index: int
    mineral: Mineral
    floor: float  # hard lower bound on quantity (target under min_cost)
    reference: float  # the quantity unit the model measures this mineral in
    offers: list[int] = field(default_factory=list)  # positions in Instance.offers
    spend_cap: float | None = None


@dataclass(slots=True)
class Instance:
    request: AllocationRequest
    offers: list[OfferData]
    minerals: list[MineralData]
    dropped: dict[int, str]  # request.suppliers index -> why it cannot be used

    @property
    def total_weight(self) -> float:
        return sum(m.mineral.weight for m in self.minerals)


def prepare(request: AllocationRequest) -> Instance:
    """Plain data for the model builder; raises nothing for a valid request."""
    minerals = [_mineral_data(request, j, m) for j, m in enumerate(request.minerals)]
    # What depends only on the mineral or the country is worked out once, not per offer.
    rooms = {m.mineral.id: _room(request, m) for m in minerals}
    rates = {country: tariff_rate(request, country) for country in {o.country for o in request.suppliers}}
    excluded = set(request.policy.excluded_countries)
    offers: list[OfferData] = []
    dropped: dict[int, str] = {}
    for i, offer in enumerate(request.suppliers):
        if offer.country in excluded:
            dropped[i] = f"country {offer.country} is excluded by policy"
            continue
        room = rooms[offer.mineral]
        data = _offer_data(i, offer, room, rates[offer.country])
        if isinstance(data, str):
            dropped[i] = data
            continue
        room.mineral.offers.append(len(offers))
        offers.append(data)
    return Instance(request=request, offers=offers, minerals=minerals, dropped=dropped)


def _mineral_data(request: AllocationRequest, j: int, m: Mineral) -> MineralData:
    floor = m.min_quantity
    if request.objective is Objective.MIN_COST:
        floor = max(floor, m.target)
    return MineralData(
        index=j,
        mineral=m,
        floor=floor,
        reference=max(m.target, m.min_quantity),
        spend_cap=m.max_spend,
    )


class _Room(NamedTuple):
    """What a mineral leaves any one of its offers, whatever the offer."""

    mineral: MineralData
    money: float  # the budget, or the mineral's spend cap when lower
    quantity: float  # max_quantity, cut by the supplier share; infinite without one


def _room(request: AllocationRequest, mdata: MineralData) -> _Room:
    m = mdata.mineral
    money = request.budget if m.max_spend is None else min(request.budget, m.max_spend)
    quantity = math.inf
    if m.max_quantity is not None:
        quantity = m.max_quantity
        if request.policy.max_supplier_share < 1:
            quantity = min(quantity, request.policy.max_supplier_share * m.max_quantity)
    return _Room(mdata, money, quantity)


def _offer_data(i: int, offer: SupplierOffer, room: _Room, rate: float) -> OfferData | str:
    """The offer's data, or why it cannot be used."""
    capacity = offer.capacity
    money = (room.money - offer.fixed_cost) / (1 + rate)  # what the goods may cost
    if offer.price_tiers is None:  # one price: tiers(offer) would be [Tier(0.0, capacity, unit_price)]
        priced = None
        affordable = _affordable_at(offer.unit_price, capacity, money)
    else:
        priced = tiers(offer)
        affordable = _affordable(priced, offer.discount, money)
    bound = min(capacity, room.quantity, affordable)
    if bound <= 0:
        return "even the smallest purchase exceeds the budget or the mineral's spend cap"
    lots = None
    min_lots = 0
    if offer.lot_size is not None:
        lots = math.floor(bound / offer.lot_size * (1 + 1e-12))
        if lots < 1:
            return "not even one lot fits the capacity, caps and budget"
        bound = lots * offer.lot_size
        min_lots = max(1, math.ceil(offer.min_order / offer.lot_size * (1 - 1e-12)))
        if min_lots > lots:
            return "the minimum order does not fit the capacity, caps and budget"
    elif offer.min_order > bound * (1 + 1e-12):
        return "the minimum order does not fit the capacity, caps and budget"
    if priced is None:  # the one tier, cut at the bound: a linear cost
        cut, shape = [tier(Tier, (0.0, min(capacity, bound), offer.unit_price))], CostShape.LINEAR
    else:
        cut = _cut(priced, bound, offer.discount)
        shape = _shape(cut, offer.discount)
    # Positional, in the order of OfferData's fields: keywords cost twice the time.
    return OfferData(i, offer, room.mineral.index, rate, bound, cut, shape, lots, min_lots)


def _cut(priced: list[Tier], bound: float, discount: Discount) -> list[Tier]:
    """The tiers that start at or below ``bound``, the one across it ending there.

    A tier that ends by ``bound`` is kept as it is (a tuple: nothing can change it). Under
    incremental pricing an empty tier (it starts at ``bound``, or it is the capacity's own
    point) is left out: no unit is bought in it. The first tier, from 0 to above 0, never is.
    """
    last = priced[-1]
    if last.hi <= bound and (last.hi > last.lo or discount is not Discount.INCREMENTAL):
        # The usual case: nothing to cut, nothing to leave out (of the tiers ``tiers`` gives,
        # ends rising, only the last, the capacity's own point, can be empty).
        return priced
    keep_empty = discount is not Discount.INCREMENTAL
    cut = []
    for t in priced:
        if t.lo > bound:
            break  # the tiers are in order: the rest start above it too
        if t.hi > bound:
            t = tier(Tier, (t.lo, bound, t.price))
        if t.hi > t.lo or keep_empty:
            cut.append(t)
    return cut


def _shape(cut: list[Tier], discount: Discount) -> str:
    if len(cut) == 1:
        return CostShape.LINEAR
    if discount is Discount.ALL_UNITS:
        return CostShape.ALL_UNITS
    for a, b in pairwise(cut):
        if b.price < a.price:
            return CostShape.INCREMENTAL  # a falling price: the model must keep the order
    return CostShape.LINEAR


def _affordable(priced: list[Tier], discount: Discount, money: float) -> float:
    """Largest quantity whose goods cost is at most ``money``."""
    if money <= 0:
        return 0.0
    if discount is Discount.ALL_UNITS and len(priced) > 1:
        best = 0.0
        for lo, hi, price in priced:
            q = min(hi, money / price)
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


def _affordable_at(price: float, capacity: float, money: float) -> float:
    """``_affordable`` for a single price: the same arithmetic on its one tier [0, capacity]."""
    if money <= 0:
        return 0.0
    return money / price if price * capacity >= money else capacity
