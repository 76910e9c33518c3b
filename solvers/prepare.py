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

from models import AllocationRequest, Discount, Mineral, Objective, SupplierOffer
from solvers.pricing import Tier, tariff_rate, tiers

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
    def needs_indicator(self) -> bool:
        o = self.offer
        return o.fixed_cost > 0 or o.min_order > 0 or self.shape != CostShape.LINEAR

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
    mineral_pos = {m.id: j for j, m in enumerate(request.minerals)}
    minerals = [_mineral_data(request, j, m) for j, m in enumerate(request.minerals)]
    excluded = set(request.policy.excluded_countries)
    offers: list[OfferData] = []
    dropped: dict[int, str] = {}
    for i, offer in enumerate(request.suppliers):
        mdata = minerals[mineral_pos[offer.mineral]]
        if offer.country in excluded:
            dropped[i] = f"country {offer.country} is excluded by policy"
            continue
        data, reason = _offer_data(request, i, offer, mdata)
        if data is None:
            dropped[i] = reason
            continue
        mdata.offers.append(len(offers))
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


def _offer_data(
    request: AllocationRequest, i: int, offer: SupplierOffer, mdata: MineralData
) -> tuple[OfferData | None, str]:
    m = mdata.mineral
    rate = tariff_rate(request, offer.country)
    money = request.budget if m.max_spend is None else min(request.budget, m.max_spend)
    priced = tiers(offer)
    bound = offer.capacity
    if m.max_quantity is not None:
        bound = min(bound, m.max_quantity)
        if request.policy.max_supplier_share < 1:
            bound = min(bound, request.policy.max_supplier_share * m.max_quantity)
    bound = min(bound, _affordable(priced, offer.discount, (money - offer.fixed_cost) / (1 + rate)))
    if bound <= 0:
        return None, "even the smallest purchase exceeds the budget or the mineral's spend cap"
    lots = None
    min_lots = 0
    if offer.lot_size is not None:
        lots = math.floor(bound / offer.lot_size * (1 + 1e-12))
        if lots < 1:
            return None, "not even one lot fits the capacity, caps and budget"
        bound = lots * offer.lot_size
        min_lots = max(1, math.ceil(offer.min_order / offer.lot_size * (1 - 1e-12)))
        if min_lots > lots:
            return None, "the minimum order does not fit the capacity, caps and budget"
    elif offer.min_order > bound * (1 + 1e-12):
        return None, "the minimum order does not fit the capacity, caps and budget"
    cut = [Tier(t.lo, min(t.hi, bound), t.price) for t in priced if t.lo <= bound]
    if offer.discount is Discount.INCREMENTAL:
        cut = [t for t in cut if t.hi > t.lo] or cut[:1]
    shape = _shape(cut, offer.discount)
    return (
        OfferData(
            index=i,
            offer=offer,
            mineral=mdata.index,
            tariff=rate,
            bound=bound,
            tiers=cut,
            shape=shape,
            lots=lots,
            min_lots=min_lots,
        ),
        "",
    )


def _shape(cut: list[Tier], discount: Discount) -> str:
    if len(cut) == 1:
        return CostShape.LINEAR
    if discount is Discount.ALL_UNITS:
        return CostShape.ALL_UNITS
    rising = all(b.price >= a.price for a, b in pairwise(cut))
    return CostShape.LINEAR if rising else CostShape.INCREMENTAL


def _affordable(priced: list[Tier], discount: Discount, money: float) -> float:
    """Largest quantity whose goods cost is at most ``money``."""
    if money <= 0:
        return 0.0
    if discount is Discount.ALL_UNITS and len(priced) > 1:
        best = 0.0
        for t in priced:
            q = min(t.hi, money / t.price)
            if q >= t.lo:
                best = max(best, q)
        return best
    spent = 0.0
    for t in priced:
        width = t.hi - t.lo
        if spent + t.price * width >= money:
            return t.lo + (money - spent) / t.price
        spent += t.price * width
    return priced[-1].hi
