"""From a validated request to the plain data the model is built from.

This is the presolve that needs no solver: offers from excluded countries
and offers that cannot be afforded or cannot meet their own minimum order are
dropped; every remaining offer gets the tightest upper bound on its quantity
that the data allows (capacity, the mineral's max_quantity, the share rule,
and what the budget and the mineral's spend cap can pay for). Quantities in
the model are then fractions of that bound, which keeps every column scaled
to [0, 1] whatever the units.

An offer is held in four shapes on the way, besides the request's own
``SupplierOffer``: ``_AllOfferColumns``, every offer of the request in numpy
columns while bounds are worked out and the unusable ones dropped;
``OfferColumns``, the usable offers in columns, which the build reads;
``OfferRecord``, one usable offer as an object; and ``OfferRecords``
(``Instance.offers``), the usable offers' records, each made from the columns
when first asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, compress
from operator import attrgetter, is_, itemgetter
from typing import NamedTuple

import numpy as np

from models import AllocationRequest, Discount, Mineral, Objective, SupplierOffer
from solvers.prepare.pricing import Tier, tariff_rate, tier

# Quantities below this fraction of an offer's bound are treated as zero.
ZERO = 1e-9


class CostShape:
    """How an offer's goods cost depends on its quantity, as the model sees it."""

    LINEAR = "linear"  # one price, or incremental tiers with rising prices (convex)
    INCREMENTAL = "incremental"  # incremental tiers that need order binaries
    ALL_UNITS = "all_units"  # one tier chosen for the whole quantity


@dataclass(slots=True)
class OfferRecord:
    """One usable offer as an object, made from ``OfferColumns`` when first asked for."""

    index: int  # position in request.suppliers
    offer: SupplierOffer
    mineral: int  # position in request.minerals
    tariff: float
    bound: float  # tightest upper bound on quantity, > 0
    tiers: list[Tier]  # cut at ``bound``
    shape: str
    lots: int | None  # most whole lots, when the offer sells in lots
    min_lots: int  # fewest whole lots in an order (0 without lots)


@dataclass(slots=True)
class MineralData:
    index: int
    mineral: Mineral
    floor: float  # hard lower bound on quantity (target under min_cost)
    reference: float  # the quantity the mineral needs: max(target, min_quantity)
    supply: float = 0.0  # the most its usable offers supply together (cut by max_quantity)
    unit: float = 0.0  # the quantity unit the model measures it in (see ``measuring_unit``)
    offers: list[int] = field(default_factory=list)  # positions in Instance.offers
    spend_cap: float | None = None


@dataclass(slots=True)
class OfferColumns:
    """The usable offers' data in columns (numpy arrays), one row per offer of ``Instance.offers``.

    An offer's tiers (cut at its bound) are ``lo``, ``hi`` and ``price`` from
    ``first_tier[p]`` to ``first_tier[p + 1]``. ``solvers.build.program`` reads these; the
    ``OfferRecord`` of an offer is made from them when first asked for (``OfferRecords``).
    """

    index: np.ndarray  # position in request.suppliers
    mineral: np.ndarray
    tariff: np.ndarray
    bound: np.ndarray
    lots: np.ndarray  # whole numbers, as floats; 0: not sold in lots
    min_lots: np.ndarray  # whole numbers, as floats
    shape: np.ndarray  # CostShape, as numpy strings
    fixed: np.ndarray
    min_order: np.ndarray
    lot_size: np.ndarray  # 0: not sold in lots
    country: np.ndarray  # position in country_names
    country_names: list[str]  # the offers' countries, each once
    first_tier: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    price: np.ndarray


class OfferRecords(Sequence[OfferRecord]):
    """``Instance.offers``: each usable offer's ``OfferRecord``, made from the table when first asked for.

    At 10,000 offers, making all of them (and their 20,000 tiers) takes longer than
    everything else ``prepare`` does; a solve reads a few hundred (those bought).
    """

    def __init__(self, table: OfferColumns, suppliers: list[SupplierOffer]) -> None:
        self.table = table
        self._suppliers = suppliers
        self._made: list[OfferRecord | None] = [None] * len(table.index)

    def __len__(self) -> int:
        return len(self._made)

    def __getitem__(self, p):
        if isinstance(p, slice):
            return [self[q] for q in range(*p.indices(len(self)))]
        made = self._made[p]
        if made is None:
            made = self._made[p] = self._make(p if p >= 0 else p + len(self))
        return made

    def __iter__(self):
        return map(self.__getitem__, range(len(self)))

    def suppliers_of(self, positions: list[int]) -> list[SupplierOffer]:
        """The request's offers at these positions, without making their ``OfferRecord``."""
        return list(map(self._suppliers.__getitem__, self.table.index[positions].tolist()))

    def _make(self, p: int) -> OfferRecord:
        t = self.table
        index, mineral, lots, min_lots = (int(a[p]) for a in (t.index, t.mineral, t.lots, t.min_lots))
        start, end = t.first_tier[p : p + 2].tolist()
        cut = [tier(Tier, row) for row in zip(*(a[start:end].tolist() for a in (t.lo, t.hi, t.price)))]
        lot = lots if lots > 0 else None
        tariff, bound = float(t.tariff[p]), float(t.bound[p])
        shape = str(t.shape[p])
        return OfferRecord(index, self._suppliers[index], mineral, tariff, bound, cut, shape, lot, min_lots)


@dataclass(slots=True)
class Instance:
    request: AllocationRequest
    offers: OfferRecords
    minerals: list[MineralData]
    dropped: dict[int, str]  # request.suppliers index -> why it cannot be used

    @property
    def total_weight(self) -> float:
        return sum(m.mineral.weight for m in self.minerals)


def prepare(request: AllocationRequest) -> Instance:
    """Plain data for the model builder; raises nothing for a valid request.

    Worked out for every offer at once, in numpy (``_AllOfferColumns``): at 10,000 offers a loop
    over them took 34 ms. Each step follows the contract's pricing rules
    (``solvers.prepare.pricing``) operation for operation, so every bound and tier is the float
    the rules give; ``tests/solvers/test_prepare.py`` compares them with those rules offer by offer.
    """
    minerals = [_mineral_data(request, j, m) for j, m in enumerate(request.minerals)]
    rooms = [_room(request, m) for m in minerals]
    o = _AllOfferColumns(request, rooms)
    dropped: dict[int, str] = {}
    for i in np.flatnonzero(o.why != _KEPT).tolist():
        why = int(o.why[i])
        offer = request.suppliers[i]
        dropped[i] = f"country {offer.country} is excluded by policy" if why == _EXCLUDED else _REASONS[why]
    table = o.table(np.flatnonzero(o.why == _KEPT))
    # each mineral's offers (positions in offers, in request order): one stable sort, not a
    # pass over every offer per mineral
    order = np.argsort(table.mineral, kind="stable")
    ends = np.cumsum(np.bincount(table.mineral, minlength=len(minerals)))
    bounds = table.bound.tolist()  # read once, as Python floats, for every mineral's sum
    for md, positions in zip(minerals, np.split(order, ends[:-1]), strict=True):
        md.offers = positions.tolist()
        md.supply = sum(map(bounds.__getitem__, md.offers))  # Python's sum of the bounds, in offer order
        if md.mineral.max_quantity is not None:
            md.supply = min(md.supply, md.mineral.max_quantity)
        md.unit = measuring_unit(md)
    return Instance(request=request, offers=OfferRecords(table, request.suppliers), minerals=minerals, dropped=dropped)


def measuring_unit(md: MineralData) -> float:
    """The quantity a mineral's rows are measured in: its need, or what it can get when that is less.

    What it can get is ``md.supply``, the sum of its usable offers' bounds (cut by ``max_quantity``). Rows
    measured in a need a million times larger than anything that can be bought leave every
    quantity near HiGHS's 1e-7 tolerances, where a supplier share can be broken by a tenth
    and still pass for kept. Without usable offers it is the need; it is never below
    ``SMALLEST_UNIT`` of the need, so that no coefficient it makes (unit / target in the
    coverage row, unit / floor in the floor row) falls under what HiGHS drops as zero (1e-9).
    """
    if md.supply <= 0:
        return md.reference
    return min(md.reference, max(md.supply, SMALLEST_UNIT * md.reference))


# The smallest measuring unit, as a share of the need (``measuring_unit``).
SMALLEST_UNIT = 1e-8


def whole_lots(count, lot_size):
    """``count`` whole lots of ``lot_size`` (numbers or arrays), to 12 significant digits.

    The float product is an ulp off the decimal one: 10 x 1.43 is 14.299999999999999, and an
    all-units tier priced from 14.3 (the capacity) would then never be reached, though 10 lots
    are 14.3 to the planner and to the contract.
    """
    q = np.asarray(count, dtype=float) * lot_size
    scale = 10.0 ** (11 - np.floor(np.log10(np.where(q > 0, q, 1.0))))
    return np.round(q * scale) / scale


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

    money: float  # the budget, or the mineral's spend cap when lower
    quantity: float  # max_quantity, cut by the supplier share; infinite without one
    useful: float  # the most a plain mineral needs from one offer (see _AllOfferColumns), cut by the supplier share


def _room(request: AllocationRequest, mdata: MineralData) -> _Room:
    m = mdata.mineral
    money = request.budget if m.max_spend is None else min(request.budget, m.max_spend)
    share = request.policy.max_supplier_share
    quantity = math.inf
    if m.max_quantity is not None:
        quantity = m.max_quantity
        if share < 1:
            quantity = min(quantity, share * m.max_quantity)
    useful = mdata.reference if share >= 1 else share * mdata.reference
    return _Room(money, quantity, useful)


# Why an offer is dropped (_AllOfferColumns.why), and what the user is told.
_KEPT, _EXCLUDED, _UNAFFORDABLE, _NO_LOT, _MIN_ORDER = range(5)
_REASONS = {
    _UNAFFORDABLE: "even the smallest purchase exceeds the budget or the mineral's spend cap",
    _NO_LOT: "not even one lot fits the capacity, caps and budget",
    _MIN_ORDER: "the minimum order does not fit the capacity, caps and budget",
}


class _AllOfferColumns:
    """Every offer's bound, lots and tiers, offer by offer in columns (numpy arrays).

    A tiered offer's tiers are a row of ``lo``, ``hi`` and ``price`` (one column more
    than the most tiers any offer gives, ``count`` of them used), as ``solvers.prepare.pricing.tiers`` gives them; a
    single-price offer has one, [0, capacity]. Each step below is the scalar rule
    (noted) applied to all offers together, in the same order of float operations.
    """

    def __init__(self, request: AllocationRequest, rooms: list[_Room]) -> None:
        n = len(request.suppliers)
        # Every field of an offer read in one visit to it, then in columns: reading one
        # field of every offer at a time takes 4x as long at 50,000 offers (cache misses).
        # Read from the model's __dict__, where pydantic keeps the fields: 35% less time
        # than getting them as attributes.
        columns = zip(*map(_OFFER_FIELDS, map(vars, request.suppliers))) if n else ((),) * 9
        minerals, countries, capacity, fixed, min_order, lot_size, discount, given, unit_price = columns
        index = {m.id: j for j, m in enumerate(request.minerals)}
        self.mineral = np.fromiter(map(index.__getitem__, minerals), dtype=np.int64, count=n)
        # each offer's country as a number: tariffs and exclusions looked up once a country
        self.country_names = list(dict.fromkeys(countries))
        number = {country: k for k, country in enumerate(self.country_names)}
        self.country = np.fromiter(map(number.__getitem__, countries), dtype=np.int64, count=n)
        self.rate = np.array([tariff_rate(request, c) for c in self.country_names], dtype=float)[self.country]
        excluded = set(request.policy.excluded_countries)
        self.capacity = np.array(capacity, dtype=float)
        fixed = self.fixed = np.array(fixed, dtype=float)
        self.min_order = np.array(min_order, dtype=float)
        # None, 0: no lots (None read as 0 in one pass: converting it to nan first takes twice as long)
        lot_size = self.lot_size = np.fromiter(map(_NO_LOTS.get, lot_size, lot_size), dtype=float, count=n)
        self.all_units = np.fromiter(map(partial(is_, Discount.ALL_UNITS), discount), dtype=bool, count=n)
        room_money = np.array([r.money for r in rooms], dtype=float)
        room_quantity = np.array([r.quantity for r in rooms], dtype=float)
        # A plain mineral (no offer with a minimum order, lots or all-units prices) never needs
        # more than its reference quantity, max(target, min_quantity): any allocation buying
        # more, scaled down to it, keeps every rule (shares and caps are proportions; spend
        # falls; fixed costs and the offers used stay) and its coverage, for no more money.
        # So each of its offers is bounded by that (times the supplier share). Without this,
        # an offer whose capacity is 10^7 times the need leaves the useful quantities at the
        # solver's tolerances (docs/formulation.md, "Bounds").
        kinked = (self.min_order > 0) | (lot_size > 0) | self.all_units
        plain = np.bincount(self.mineral, weights=kinked, minlength=len(rooms)) == 0
        useful = np.array([r.useful for r in rooms], dtype=float)
        room_quantity = np.where(plain, np.minimum(room_quantity, useful), room_quantity)
        self._tiers(list(given), unit_price)
        # money = (room.money - offer.fixed_cost) / (1 + rate): what the goods may cost
        money = (room_money[self.mineral] - fixed) / (1 + self.rate)
        affordable = self._affordable(money)
        # bound = min(capacity, room.quantity, affordable)
        bound = np.minimum(np.minimum(self.capacity, room_quantity[self.mineral]), affordable)
        why = np.where(bound <= 0, _UNAFFORDABLE, _KEPT)
        # lots = floor(bound / lot_size * (1 + 1e-12)); bound = lots * lot_size;
        # min_lots = max(1, ceil(min_order / lot_size * (1 - 1e-12)))
        in_lots = lot_size > 0
        per_lot = np.where(in_lots, lot_size, 1.0)
        lots = np.where(in_lots, np.floor(bound / per_lot * (1 + 1e-12)), 0.0)
        least = np.where(in_lots, np.maximum(1.0, np.ceil(self.min_order / per_lot * (1 - 1e-12))), 0.0)
        why = np.where((why == _KEPT) & in_lots & (lots < 1), _NO_LOT, why)
        why = np.where((why == _KEPT) & in_lots & (least > lots), _MIN_ORDER, why)
        why = np.where((why == _KEPT) & ~in_lots & (self.min_order > bound * (1 + 1e-12)), _MIN_ORDER, why)
        self.bound = np.where(in_lots & (why == _KEPT), whole_lots(lots, per_lot), bound)
        excluded_here = np.array([c in excluded for c in self.country_names], dtype=bool)[self.country]
        self.why = np.where(excluded_here, _EXCLUDED, why)
        # whole numbers kept as floats, as math.floor gives them: an int64 would wrap past 2**63
        self.lots = np.where(self.why == _KEPT, lots, 0.0)
        self.min_lots = np.where(self.why == _KEPT, least, 0.0)

    def _tiers(self, given: list, unit_price: Sequence[float | None]) -> None:
        """Each offer's tiers, as ``solvers.prepare.pricing.tiers`` makes them, in rows of ``lo``, ``hi``, ``price``.

        ``given``: each offer's price_tiers (None: one price, its ``unit_price``; None otherwise).
        """
        n = len(given)
        single = np.fromiter(map(partial(is_, None), given), dtype=bool, count=n)
        singles = int(single.sum())
        # only the single-price offers' prices: an array with the others' None (nan) takes twice as long
        one_price = np.fromiter(compress(unit_price, single.tolist()), dtype=float, count=singles)
        tiered = np.flatnonzero(~single)
        given = list(compress(given, ~single))
        lengths = np.fromiter(map(len, given), dtype=np.int64, count=len(given))
        most = int(lengths.max()) if len(given) else 0  # the most tiers an offer gives
        width = max(most, 1) + 1  # a capacity's own point may follow the last tier
        self.lo, self.hi = np.zeros((n, width)), np.zeros((n, width))
        self.price = np.ones((n, width))
        self.count = np.zeros(n, dtype=np.int64)
        # one price: [Tier(0.0, capacity, unit_price)]
        self.hi[single, 0] = self.capacity[single]
        self.price[single, 0] = one_price
        self.count[single] = 1
        up_to = np.full((len(tiered), most), np.nan)  # nan: none given (the last tier's None too)
        tier_price = np.ones((len(tiered), most))
        rows = np.repeat(np.arange(len(given)), lengths)
        cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = list(chain.from_iterable(given))
        # field by field: a tier is small, and no tuple is made per tier (40% less time)
        up_to[rows, cols] = np.array(list(map(_UP_TO, flat)), dtype=float)  # None: nan
        tier_price[rows, cols] = np.fromiter(map(_TIER_PRICE, flat), dtype=float, count=len(flat))
        capacity = self.capacity[tiered]
        lo = np.zeros(len(tiered))  # where the next tier starts
        previous = np.full(len(tiered), np.nan)  # the previous tier's up_to (nan: None)
        count = np.zeros(len(tiered), dtype=np.int64)
        going = np.ones(len(tiered), dtype=bool)  # not yet out of the loop
        lo_out, hi_out, price_out = (np.zeros((len(tiered), width)) for _ in range(3))
        price_out[:] = 1.0
        at = np.arange(len(tiered))
        for k in range(most):
            going &= k < lengths
            stop = going & (lo >= capacity)  # `if lo >= capacity: ... break`
            # the previous tier ends exactly at capacity: that breakpoint belongs to this tier too
            last_hi = hi_out[at, np.maximum(count - 1, 0)]
            point = stop & (count > 0) & (last_hi == capacity) & (previous == capacity)
            lo_out[point, count[point]] = capacity[point]
            hi_out[point, count[point]] = capacity[point]
            price_out[point, count[point]] = tier_price[point, k]
            count += point
            going &= ~stop
            # hi = capacity if up_to is None else min(up_to, capacity)
            up = up_to[:, k]
            hi = np.where(np.isnan(up), capacity, np.minimum(up, capacity))
            lo_out[going, count[going]] = lo[going]
            hi_out[going, count[going]] = hi[going]
            price_out[going, count[going]] = tier_price[going, k]
            count += going
            lo = np.where(going, hi, lo)
            previous = np.where(going, up, previous)
        self.lo[tiered], self.hi[tiered], self.price[tiered] = lo_out, hi_out, price_out
        self.count[tiered] = count

    def _affordable(self, money: np.ndarray) -> np.ndarray:
        """Largest quantity whose goods cost is at most ``money``, by the offer's tiers.

        All-units (more than one tier): the largest min(hi, money / price) that reaches its
        tier's lo. Otherwise, tiers filled in order until the money runs out. 0 where
        money <= 0.
        """
        n = len(money)
        all_units = self.all_units & (self.count > 1)
        best = np.zeros(n)  # all-units
        spent = np.zeros(n)  # incremental: spent before the tier
        found = np.full(n, np.nan)  # incremental: where the money ran out
        for k in range(self.lo.shape[1]):
            here = k < self.count
            lo, hi, price = self.lo[:, k], self.hi[:, k], self.price[:, k]
            q = np.minimum(hi, money / price)
            q = np.where((q < lo) & (q >= lo * (1 - 1e-12)), lo, q)  # a tier's start, affordable to float noise
            take = here & all_units & (q >= lo)
            best = np.where(take, np.maximum(best, q), best)
            cost = price * (hi - lo)
            ends = here & ~all_units & np.isnan(found) & (spent + cost >= money)
            found = np.where(ends, lo + (money - spent) / price, found)
            spent = np.where(here & ~all_units & np.isnan(found), spent + cost, spent)
        last_hi = self.hi[np.arange(n), self.count - 1]
        affordable = np.where(all_units, best, np.where(np.isnan(found), last_hi, found))
        return np.where(money <= 0, 0.0, affordable)

    def table(self, kept: np.ndarray) -> OfferColumns:
        """The kept offers' table (``kept``: their positions, increasing), their tiers cut at their bounds.

        A tier that starts above the bound is left out, the one across it ends there, and
        under incremental pricing an empty tier (it starts at the bound, or it is the
        capacity's own point) is left out: no unit is bought in it.
        """
        # only read below: every offer kept (as a rule; kept is then 0, 1, ...), the rows as they are, not copies
        every = len(kept) == len(self.bound)
        lo, hi, price = (self.lo, self.hi, self.price) if every else (self.lo[kept], self.hi[kept], self.price[kept])
        bound = self.bound[kept][:, None]
        used = np.arange(lo.shape[1])[None, :] < self.count[kept][:, None]
        hi = np.where(hi > bound, bound, hi)
        all_units = self.all_units[kept]
        keep = used & (lo <= bound) & ((hi > lo) | all_units[:, None])  # a prefix of each row
        count = keep.sum(axis=1)
        # CostShape: one tier, linear; all-units; a price falling from one tier to the next
        # needs the order kept (incremental); rising prices are convex (linear)
        falls = ((price[:, 1:] < price[:, :-1]) & keep[:, 1:]).any(axis=1)
        # as fixed-width strings (the longest, "incremental", sets the width): compared in numpy, not one by one
        shape = np.where(falls, CostShape.INCREMENTAL, CostShape.LINEAR)
        shape[all_units] = CostShape.ALL_UNITS
        shape[count == 1] = CostShape.LINEAR
        first_tier = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum(count, out=first_tier[1:])
        return OfferColumns(
            index=kept,
            mineral=self.mineral[kept],
            tariff=self.rate[kept],
            bound=self.bound[kept],
            lots=self.lots[kept],
            min_lots=self.min_lots[kept],
            shape=shape,
            fixed=self.fixed[kept],
            min_order=self.min_order[kept],
            lot_size=self.lot_size[kept],
            country=self.country[kept],
            country_names=self.country_names,
            first_tier=first_tier,
            lo=lo[keep],
            hi=hi[keep],
            price=price[keep],
        )


# What _AllOfferColumns reads of each offer (from its __dict__), in one visit to it, and of each tier.
_OFFER_FIELDS = itemgetter(
    "mineral", "country", "capacity", "fixed_cost", "min_order", "lot_size", "discount", "price_tiers", "unit_price"
)
_UP_TO, _TIER_PRICE = attrgetter("up_to"), attrgetter("unit_price")
_NO_LOTS = {None: 0.0}  # lot_size -> what _AllOfferColumns keeps: itself, but 0 for None
