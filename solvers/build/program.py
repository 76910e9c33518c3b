"""The Pyomo model of one allocation request (see docs/formulation.md).

``create_model(instance)`` returns a ``ConcreteModel`` with both objectives
declared (``formulate(instance)`` runs the same functions without Pyomo, recording
their arrays, for ``solvers.resolve``); the score first, and under max_coverage both active (stage one
solves the first, stage two the second on the same compiled matrices). One small function adds each
constraint family, computed with numpy over the offers (``Arrays``) and held as
one sparse matrix in a ``solvers.build.rows.Rows`` component, an ordinary Pyomo
constraint whose rows make their expressions only when asked. Scaling is part
of the formulation, not an afterthought:

* every quantity column is a fraction of its offer's bound (``x`` in [0, 1]);
* every money row is divided by its own right-hand side (the budget, or that
  mineral's spend cap), so a $2,700 cap inside a $20B budget is held to the
  solver's tolerance relative to $2,700, not to $20B;
* every quantity row is measured in its mineral's measuring unit (its need, or what it can get when less)
  (the larger of target and floor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import pyomo.environ as pyo

from models import Objective
from solvers.build.pyomo_door import InequalityExpression, LinearExpression
from solvers.build.rows import Columns, ColumnVar, RowMatrix, Rows, entries_to_rows
from solvers.prepare.instance import CostShape, Instance

if TYPE_CHECKING:
    from solvers.solve.highs import Compiled

# Stage two may give back this much coverage score (absolute, score in [0, 1]) ...
SCORE_SLACK = 1e-12
# ... and its row is multiplied by this, so the solver's 1e-7 row tolerance means 1e-10 of score.
SCORE_ROW_SCALE = 1e3


def create_model(instance: Instance, elastic_floors: bool = False) -> pyo.ConcreteModel:
    """The model of ``instance``; with ``elastic_floors``, the one ``solvers.report.diagnose`` minimises shortage in.

    Elastic floors may be missed, by ``shortage[j]`` (a share of the floor), and no
    row is left out as implied by a floor.
    """
    m = pyo.ConcreteModel(name="stockpile")
    m.instance = instance  # plain data; never leaves solvers/
    m.elastic_floors = elastic_floors
    m.columns = Columns()  # every variable by position, for the rows' matrices
    _add_all(m, instance)
    return m


def _add_all(m: pyo.ConcreteModel | Formulation, instance: Instance) -> None:
    """Every variable, row and objective of the model, in declaration order (which the compiled order follows)."""
    _add_variables(m, instance)
    _add_incremental_order(m, instance)
    _add_all_units_choice(m, instance)
    _add_usage_links(m, instance)
    _add_min_orders(m, instance)
    _add_lots(m, instance)
    _add_mineral_totals(m, instance)
    _add_floors(m, instance)
    _add_coverage(m, instance)
    _add_mineral_spend(m, instance)
    _add_budget(m, instance)
    _add_country_caps(m, instance)
    _add_supplier_shares(m, instance)
    _add_supplier_counts(m, instance)
    _add_objectives(m, instance)


def formulate(instance: Instance) -> Formulation:
    """The numbers of ``create_model(instance)`` without Pyomo: the same code, recording arrays.

    Every row family, the budget row, both objectives and every variable's bounds,
    by variable position (``Columns`` numbering), as ``create_model`` makes them.
    ``solvers.resolve`` turns them into a model's compiled arrays.
    """
    m = Formulation(instance)
    _add_all(m, instance)
    return m


@dataclass(slots=True)
class Family:
    """A row family as ``Formulation`` records it: its keys and its rows over variable positions."""

    keys: list
    matrix: RowMatrix


class _Numbering:
    """What ``Formulation.columns`` offers of ``solvers.build.rows.Columns``: sums as arrays, zeros left out."""

    @staticmethod
    def linear(positions: np.ndarray, coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nonzero = coefs != 0
        return positions[nonzero], coefs[nonzero]


class Formulation:
    """``create_model``'s numbers, recorded by the same functions that build the Pyomo model.

    ``families`` lists (name, Family) in declaration order, the budget row among them;
    ``score`` and ``spend`` are (positions, coefficients); ``upper`` and ``integer`` are
    per variable position (every lower bound is 0); ``sizes`` counts x, seg, z, y, n, Q,
    cov and S.
    """

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.elastic_floors = False
        self.columns = _Numbering()
        self.families: list[tuple[str, Family]] = []
        self.arrays: Arrays
        self.sizes: tuple[int, ...] = ()
        self.upper = self.integer = np.zeros(0)
        self.score = self.spend = (np.zeros(0, np.int64), np.zeros(0))
        self.spend_unit = 1.0

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, Family):
            self.families.append((name, value))
        object.__setattr__(self, name, value)


def release(m: pyo.ConcreteModel) -> None:
    """Let reference counting free ``m`` once it is dropped; it must not be used after this.

    Pyomo's scalar components (the model itself, an objective, a named expression)
    keep themselves in their own ``_data`` dict, ``{None: self}``: a cycle, which
    leaves the whole model to the cycle collector, whose pass over it costs 3.5 ms at
    500 offers against 1 ms when it is freed by reference counting
    (docs/performance.md, "No garbage collection during a solve"). Removing those
    self-entries breaks the cycles; a Pyomo
    whose components are laid out otherwise is left as it is, for the collector.
    """
    for component in (m, *m.component_objects(descend_into=True)):
        data = getattr(component, "__dict__", {}).get("_data")  # not Rows' rows, which it would make
        if isinstance(data, dict) and data.get(None) is component:
            del data[None]


def _uses_indicator(inst: Instance, a: Arrays) -> np.ndarray:
    """Whether each offer needs a binary 'anything bought' variable.

    It does when buying anything costs a fixed cost, must reach a minimum order, or
    picks tiers by binaries (a shape other than linear), and when its mineral has more
    offers than ``max_suppliers`` allows (the binaries count the suppliers used).
    """
    limit = inst.request.policy.max_suppliers
    needs = (a.fixed > 0) | (a.min_order > 0) | (a.shape != CostShape.LINEAR)
    if limit is None:
        return needs
    crowded = np.array([len(md.offers) > limit for md in inst.minerals], dtype=bool)
    return needs | crowded[a.mineral]


def column_offers(m: pyo.ConcreteModel, compiled: Compiled) -> np.ndarray:
    """The offer (position in instance.offers) of every column of ``compiled``; -1 for a mineral's column."""
    return _of_columns(m, compiled, _offer_owners(m.arrays, m.columns.size))


def column_minerals(m: pyo.ConcreteModel, compiled: Compiled) -> np.ndarray:
    """The mineral (position in instance.minerals) of every column of ``compiled``: its offer's, or its own
    (a mineral's total, coverage and spend); -1 for a column of no one mineral."""
    a = m.arrays
    offers = _offer_owners(a, m.columns.size)
    owner = np.full(len(offers), -1, dtype=np.int64)
    owner[offers >= 0] = a.mineral[offers[offers >= 0]]
    for per_mineral in (a.Q, a.cov, a.S):
        owner[per_mineral[per_mineral >= 0]] = np.flatnonzero(per_mineral >= 0)
    return _of_columns(m, compiled, owner)


def _offer_owners(a: Arrays, size: int) -> np.ndarray:
    """The offer of each position in ``m.columns`` (-1: none)."""
    owner = np.full(size, -1, dtype=np.int64)
    owner[a.part_position] = a.part_offer
    owner[a.part_z[a.part_z >= 0]] = a.part_offer[a.part_z >= 0]
    for per_offer in (a.y, a.n):
        owner[per_offer[per_offer >= 0]] = np.flatnonzero(per_offer >= 0)
    return owner


def _of_columns(m: pyo.ConcreteModel, compiled: Compiled, owner: np.ndarray) -> np.ndarray:
    """``owner``, given per position in ``m.columns``, per column of ``compiled`` (-1 for a column not numbered)."""
    owner = np.append(owner, -1)  # position -1: a column the model's Columns did not number
    if compiled.numbering is m.columns:  # read from m.columns: each column's position is known
        return owner[compiled.positions]
    position = {id(var): p for p, var in enumerate(m.columns.vars)}
    columns = compiled.columns
    return owner[np.fromiter((position.get(id(var), -1) for var in columns), dtype=np.int64, count=len(columns))]


# --- variables -----------------------------------------------------------------


def _add_variables(m: pyo.ConcreteModel | Formulation, inst: Instance) -> None:
    a = m.arrays = _arrays(inst)
    seg_parts = np.flatnonzero(a.part_is_seg)
    chosen_parts = np.flatnonzero(a.part_is_seg & _tier_binary(a))
    lots = np.flatnonzero(a.lots > 0)
    used = np.flatnonzero(_uses_indicator(inst, a))
    spenders = _spenders(inst)
    minerals = len(inst.minerals)
    # every variable's position, in declaration order: x, seg, z, y, n, Q, cov, S
    sizes = (int((~a.part_is_seg).sum()), len(seg_parts), len(chosen_parts), len(used), len(lots), minerals)
    x, seg, z, y, n, Q = np.cumsum((0, *sizes[:-1])).tolist()
    cov, S = Q + minerals, Q + 2 * minerals
    caps = [md.supply / md.unit for md in inst.minerals]  # each total at most what its offers supply
    if isinstance(m, Formulation):
        m.sizes = (*sizes, minerals, len(spenders))
        m.upper = np.concatenate(
            (
                np.ones(sizes[0]),
                a.part_width[a.part_is_seg],
                np.ones(sizes[2] + sizes[3]),
                a.lots[lots],
                np.array(caps, dtype=float),
                np.ones(minerals + len(spenders)),
            )
        )
        m.integer = np.repeat(np.array([0, 0, 1, 1, 1, 0, 0, 0], dtype=np.int32), m.sizes)
    else:
        _make_variables(m, inst, a, seg_parts, chosen_parts, lots, used, spenders, caps, (x, seg, z, y, n, Q, cov, S))
    a.Q = Q + np.arange(minerals)
    a.cov = cov + np.arange(minerals)
    a.S = _by_key(minerals, spenders, S)
    a.part_position[~a.part_is_seg] = x + np.arange(sizes[0])
    a.part_position[a.part_is_seg] = seg + np.arange(len(seg_parts))
    a.part_z[chosen_parts] = z + np.arange(len(chosen_parts))
    a.y = _by_key(len(inst.offers), used, y)
    a.n = _by_key(len(inst.offers), lots, n)


def _make_variables(m, inst, a, seg_parts, chosen_parts, lots, used, spenders, caps, starts) -> None:
    """The Pyomo variables of ``_add_variables``, each numbered at the position ``starts`` gives it."""
    # Each large Var is a ColumnVar, whose variables ``Columns.make`` numbers and makes when
    # first asked for (compiling needs none); every variable gets a position, in declaration order.
    columns = m.columns
    given = []
    # x[i]: quantity bought from single-price offer i, as a fraction of its bound
    # (a tiered offer's is the sum of its tier segments: its "parts", see Arrays).
    m.x = ColumnVar(_keys(a.part_offer[~a.part_is_seg].tolist()), bounds=(0, 1))
    given.append(columns.make(m.x))
    # seg[i, k]: the part of offer i's quantity (as a fraction of its bound) priced at tier k,
    # at most the tier's width.
    m.seg = ColumnVar(_keys(_tier_keys(a, seg_parts)), bounds=(0, 1))
    given.append(columns.make(m.seg, a.part_width[a.part_is_seg]))
    # z[i, k]: tier k is reached (incremental) or chosen (all-units).
    m.z = ColumnVar(_keys(_tier_keys(a, chosen_parts)), domain=pyo.Binary)
    given.append(columns.make(m.z))
    # y[i]: anything is bought from offer i.
    m.y = ColumnVar(_keys(used.tolist()), domain=pyo.Binary)
    given.append(columns.make(m.y))
    # n[i]: whole lots bought from offer i, at most the lots its bound holds.
    m.n = ColumnVar(_keys(lots.tolist()), domain=pyo.NonNegativeIntegers)
    given.append(columns.make(m.n, a.lots[lots]))
    # Q[j]: total quantity of mineral j, in its measuring unit.
    minerals = range(len(inst.minerals))
    m.Q = pyo.Var(minerals, bounds={j: (0, caps[j]) for j in minerals})
    # cov[j]: coverage of mineral j, min(1, quantity / target).
    m.cov = pyo.Var(minerals, bounds=(0, 1))
    # S[j]: spend on mineral j, in units of its money scale (bound 1 = its cap, or the budget).
    m.S = pyo.Var(spenders, bounds=(0, 1))
    given += [columns.add(m.Q), columns.add(m.cov), columns.add(m.S)]
    if tuple(given) != tuple(starts):  # Formulation's positions are these: they must agree
        raise RuntimeError(f"variables numbered at {given}, laid out at {starts}")


def _spenders(inst: Instance) -> list[int]:
    """The minerals with offers: those with a spend variable S[j]."""
    return [j for j, md in enumerate(inst.minerals) if md.offers]


def _not_yet() -> np.ndarray:
    """A position array that ``_add_variables`` sets."""
    return np.zeros(0, dtype=np.int64)


@dataclass(slots=True)
class Arrays:
    """The data the rows are built from, as numpy arrays, with the variables' positions in ``m.columns``.

    An offer's *parts* are its quantity columns: x[i], or seg[i, k] for each of its
    tiers; the quantity bought, as a fraction of the offer's bound, is their sum.
    Parts are listed offer by offer, each offer's in tier order. A position is -1
    where the variable does not exist.
    """

    # per offer
    mineral: np.ndarray
    bound: np.ndarray  # the offer's bound on its quantity (OfferRecord.bound)
    quantity: np.ndarray  # bound / the mineral's measuring unit
    money: np.ndarray  # (1 + tariff) x bound: the spend of the whole bound at a price of 1
    fixed: np.ndarray  # fixed cost
    min_order: np.ndarray
    lots: np.ndarray  # the most whole lots its bound holds (a float); 0 for an offer not sold in lots
    shape: np.ndarray  # CostShape
    first_part: np.ndarray  # offer i's parts are first_part[i]:first_part[i + 1]
    # per part
    part_offer: np.ndarray
    part_is_seg: np.ndarray
    part_low: np.ndarray  # its tier's lower end, as a fraction of the bound
    part_width: np.ndarray  # its tier's width as a fraction of the bound (an all-units tier: its upper end)
    part_price: np.ndarray
    # positions (set once the variables exist)
    part_position: np.ndarray  # per part
    part_z: np.ndarray  # per part
    y: np.ndarray = field(default_factory=_not_yet)  # per offer
    n: np.ndarray = field(default_factory=_not_yet)  # per offer
    Q: np.ndarray = field(default_factory=_not_yet)  # per mineral
    cov: np.ndarray = field(default_factory=_not_yet)  # per mineral
    S: np.ndarray = field(default_factory=_not_yet)  # per mineral
    shortage: np.ndarray = field(default_factory=_not_yet)  # per mineral, with elastic floors
    offer_spend: Group | None = None  # every offer's spend entries, once made (_offer_spend)


def _arrays(inst: Instance) -> Arrays:
    t = inst.offers.table  # the offers' data in columns (solvers.prepare.instance.OfferColumns)
    count = len(t.index)
    unit = np.array([md.unit for md in inst.minerals], dtype=float)
    per_offer = np.diff(t.first_tier)
    parts = int(t.first_tier[-1])
    part_offer = np.repeat(np.arange(count), per_offer)
    part_is_seg = np.repeat(per_offer > 1, per_offer)
    # every tier's (lo, hi, price), offer by offer: an offer's parts are its tiers
    lo, hi, price = t.lo, t.hi, t.price
    bound = t.bound
    part_bound = bound[part_offer]
    # an all-units tier's upper end, an incremental tier's hi - lo (as fractions of the bound)
    width = np.where((t.shape == CostShape.ALL_UNITS)[part_offer], hi / part_bound, (hi - lo) / part_bound)
    return Arrays(
        mineral=t.mineral,
        bound=bound,
        quantity=bound / unit[t.mineral],
        money=(1.0 + t.tariff) * bound,  # the bound's spend at a price of 1
        fixed=t.fixed,
        min_order=t.min_order,
        lots=t.lots,
        shape=t.shape,
        first_part=t.first_tier,
        part_offer=part_offer,
        part_is_seg=part_is_seg,
        part_low=lo / part_bound,
        part_width=np.where(part_is_seg, width, 1.0),
        part_price=price,
        part_position=np.empty(parts, dtype=np.int64),
        part_z=np.full(parts, -1, dtype=np.int64),
    )


def _by_key(size: int, keys, start: int) -> np.ndarray:
    """Positions by key (0 .. size-1) of a Var over ``keys`` numbered from ``start``; -1 for keys it lacks."""
    out = np.full(size, -1, dtype=np.int64)
    out[np.fromiter(keys, dtype=np.int64, count=len(keys))] = start + np.arange(len(keys))
    return out


def _tier_binary(a: Arrays) -> np.ndarray:
    """Whether each part has a tier binary z: an all-units offer's every tier, an incremental one's from the second."""
    # shapes compared offer by offer, then spread to the parts: strings are slow to compare
    all_units = (a.shape == CostShape.ALL_UNITS)[a.part_offer]
    incremental = (a.shape == CostShape.INCREMENTAL)[a.part_offer]
    later = np.arange(len(a.part_offer)) > a.first_part[a.part_offer]  # not its offer's first part
    return all_units | (incremental & later)


# --- helpers -------------------------------------------------------------------


def _keys(keys: Sequence) -> pyo.SetOf:
    """An index set over ``keys`` as they are, in their order.

    Given a plain list, Pyomo copies it into a new Set and normalises and checks
    the dimension of every key: half the time of building a tuple-indexed Var.
    The keys here are made by this module, distinct and of one shape.
    """
    return pyo.SetOf(keys)


# A family's rows are made from groups of entries: (row of each entry, variable position
# of each entry, coefficient of each entry or one for all). Within a row, entries keep the
# order of their groups and then their order in the group. A row "lhs <= rhs" with
# variables on both sides is written lhs - rhs <= 0, terms in the order Pyomo itself
# would standardise them, so the compiled matrices and column order are those that Pyomo
# expressions of the same rows give (``tests/solvers/test_rows.py`` compares the two).
Group = tuple[np.ndarray, np.ndarray, "np.ndarray | float"]


def _family(m: pyo.ConcreteModel, keys: list, groups: list[Group], lower=-np.inf, upper=np.inf) -> Rows:
    """The rows over ``keys`` (row r is the row of keys[r]) from their entries: lower <= row <= upper."""
    matrix = entries_to_rows(len(keys), groups, lower, upper)
    return Family(keys, matrix) if isinstance(m, Formulation) else Rows(keys, matrix, m.columns)


def _each(positions: np.ndarray, coef: np.ndarray | float) -> Group:
    """One entry in each row: row r's variable at positions[r]."""
    return np.arange(len(positions)), positions, coef


def _parts_of(a: Arrays, offers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which of ``offers``, part) for every part of each of ``offers``, in that order."""
    counts = a.first_part[offers + 1] - a.first_part[offers]
    which = np.repeat(np.arange(len(offers)), counts)
    part = np.arange(int(counts.sum())) + np.repeat(a.first_part[offers] - (np.cumsum(counts) - counts), counts)
    return which, part


def _quantities(a: Arrays, rows: np.ndarray, offers: np.ndarray, scale: np.ndarray | float = 1.0) -> Group:
    """Row rows[r] gets scale[r] x the quantity of offers[r] as a fraction of its bound (the sum of its parts)."""
    which, part = _parts_of(a, offers)
    return rows[which], a.part_position[part], np.broadcast_to(scale, len(offers))[which]


def _spend(a: Arrays, rows: np.ndarray, offers: np.ndarray) -> Group:
    """Row rows[r] gets the spend of offers[r] in money: goods x (1 + tariff), then its fixed cost if used."""
    which, part = _parts_of(a, offers)
    paid = np.flatnonzero(a.fixed[offers] > 0)
    # each offer's parts, then its y: sorted by offer, then goods before the fixed cost, then as listed
    offer_of = np.concatenate((which, paid))
    fixed_last = np.concatenate((np.zeros(len(which)), np.ones(len(paid))))
    order = np.lexsort((np.arange(len(offer_of)), fixed_last, offer_of))
    row = np.concatenate((rows[which], rows[paid]))
    position = np.concatenate((a.part_position[part], a.y[offers[paid]]))
    coef = np.concatenate((a.money[offers[which]] * a.part_price[part], a.fixed[offers[paid]]))
    return row[order], position[order], coef[order]


def _offer_spend(a: Arrays) -> Group:
    """``_spend`` of every offer in a row of its own (the row is the offer), offer by offer; made once.

    The mineral spend rows and the objective both read it.
    """
    if a.offer_spend is None:
        offers = np.arange(len(a.bound))
        a.offer_spend = _spend(a, offers, offers)
    return a.offer_spend


def _offers_of(inst: Instance, minerals: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, offer) for every offer of each mineral listed (row r: minerals[r]), in that order."""
    lists = [inst.minerals[j].offers for j in minerals]
    rows = np.repeat(np.arange(len(lists)), [len(offers) for offers in lists]).astype(np.int64)
    return rows, np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=len(rows))


def _tier_keys(a: Arrays, parts: np.ndarray) -> TierKeys:
    """The (offer, tier) of every part listed (in increasing order)."""
    offer = a.part_offer[parts]
    return TierKeys(offer, parts - a.first_part[offer])


class TierKeys(Sequence):
    """(offer, tier) keys in increasing order, from two arrays: tuples only once something lists them.

    The index of seg, z and the tier families. Building, compiling and solving ask it only
    its length and whether a key is in it (Pyomo, to make a variable), which the arrays
    answer; making its 18,000 tuples at 10,000 offers takes 3 ms a model. Naming or listing
    the variables or rows makes them, once.
    """

    __slots__ = ("_code", "_listed", "_offer", "_tier", "_width")

    def __init__(self, offer: np.ndarray, tier: np.ndarray) -> None:
        self._offer, self._tier = offer, tier
        self._listed: list[tuple[int, int]] | None = None
        # one whole number per key, in the keys' order: found by bisection
        self._width = int(tier.max()) + 1 if len(tier) else 1
        self._code = offer * self._width + tier
        if not (np.diff(self._code) > 0).all():
            raise ValueError("tier keys must be distinct and in increasing (offer, tier) order")

    def __len__(self) -> int:
        return len(self._code)

    def __repr__(self) -> str:  # as the list would print (Pyomo's pprint of the index set shows it)
        return repr(self._list())

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._list()[i]
        return int(self._offer[i]), int(self._tier[i])

    def __iter__(self):
        return iter(self._list())

    def __contains__(self, key: object) -> bool:
        return self._find(key) is not None

    def index(self, key: object, start: int = 0, stop: int | None = None) -> int:
        found = self._find(key)
        first, end, _ = slice(start, stop).indices(len(self))
        if found is None or not first <= found < end:
            raise ValueError(f"{key!r} is not a key")
        return found

    def count(self, key: object) -> int:
        return int(self._find(key) is not None)

    def _find(self, key: object) -> int | None:
        if not (isinstance(key, tuple) and len(key) == 2):
            return None
        try:  # a key equal to a listed one is in, as in a list: (3, 1.0) is (3, 1)
            offer, tier = (int(k) for k in key)
            if (offer, tier) != key:
                return None
        except (TypeError, ValueError, OverflowError):
            return None
        if not (0 <= tier < self._width and len(self._code) and 0 <= offer <= self._offer[-1]):
            return None
        code = offer * self._width + tier
        at = int(np.searchsorted(self._code, code))
        return at if at < len(self._code) and self._code[at] == code else None

    def _list(self) -> list[tuple[int, int]]:
        if self._listed is None:
            self._listed = list(zip(self._offer.tolist(), self._tier.tolist(), strict=True))
        return self._listed


def _offer_array(offers: list[int]) -> np.ndarray:
    return np.array(offers, dtype=np.int64).reshape(-1)


# --- constraint families ---------------------------------------------------------


def _add_incremental_order(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Incremental tiers fill in order: tier k holds units only once tier k-1 is full.
    # (So z[i, k] <= z[i, k-1]: tier k-1's two rows imply it, widths being > 0, and it is not written.)
    a = m.arrays
    p = np.flatnonzero((a.part_z >= 0) & (a.shape == CostShape.INCREMENTAL)[a.part_offer])  # (i, k), k >= 1
    keys = _tier_keys(a, p)
    # seg[i, k] <= width_k z[i, k]
    open_ = [_each(a.part_position[p], 1.0), _each(a.part_z[p], -a.part_width[p])]
    m.tier_open = _family(m, keys, open_, upper=0)
    # width_{k-1} z[i, k] <= seg[i, k-1]
    full = [_each(a.part_z[p], a.part_width[p - 1]), _each(a.part_position[p - 1], -1.0)]
    m.tier_full = _family(m, keys, full, upper=0)


def _add_all_units_choice(m: pyo.ConcreteModel, inst: Instance) -> None:
    # All-units: exactly one tier is chosen when anything is bought, and the quantity lies in it.
    a = m.arrays
    offers = np.flatnonzero(a.shape == CostShape.ALL_UNITS)
    which, p = _parts_of(a, offers)
    # sum over k of z[i, k] == y[i]
    m.tier_pick = _family(m, offers.tolist(), [(which, a.part_z[p], 1.0), _each(a.y[offers], -1.0)], 0, 0)
    # lo_k z[i, k] <= seg[i, k]; a tier from zero has no such row: 0 <= seg[i, k] is its bound.
    low = p[a.part_low[p] > 0]
    rows = [_each(a.part_z[low], a.part_low[low]), _each(a.part_position[low], -1.0)]
    m.tier_low = _family(m, _tier_keys(a, low), rows, upper=0)
    # seg[i, k] <= width_k z[i, k]
    rows = [_each(a.part_position[p], 1.0), _each(a.part_z[p], -a.part_width[p])]
    m.tier_high = _family(m, _tier_keys(a, p), rows, upper=0)


def _add_usage_links(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Nothing is bought from an offer unless it is marked used: quantity <= y[i].
    # (All-units offers need no row: x = sum of seg <= sum of width x z <= sum of z = y, widths being <= 1.)
    a = m.arrays
    wide = np.zeros(len(inst.offers), dtype=bool)  # an offer with a part wider than its bound
    wide[a.part_offer[a.part_width > 1]] = True
    linked = (a.shape == CostShape.ALL_UNITS) & ~wide
    offers = np.flatnonzero((a.y >= 0) & ~linked)
    rows = np.arange(len(offers))
    m.use_link = _family(m, offers.tolist(), [_quantities(a, rows, offers), _each(a.y[offers], -1.0)], upper=0)


def _add_min_orders(m: pyo.ConcreteModel, inst: Instance) -> None:
    # A used offer supplies at least its minimum order: (min_order / bound) y[i] <= quantity.
    a = m.arrays
    offers = np.flatnonzero((a.y >= 0) & (a.min_order > 0) & (a.lots == 0))
    least = a.min_order[offers] / a.bound[offers]
    rows = np.arange(len(offers))
    m.min_order = _family(m, offers.tolist(), [_each(a.y[offers], least), _quantities(a, rows, offers, -1.0)], upper=0)
    # ... in whole lots: min_lots y[i] <= n[i].
    lots = np.flatnonzero((a.y >= 0) & (a.lots > 0))
    least_lots = inst.offers.table.min_lots[lots].astype(float)
    m.min_lots = _family(m, lots.tolist(), [_each(a.y[lots], least_lots), _each(a.n[lots], -1.0)], upper=0)


def _add_lots(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Lot offers sell whole lots only: quantity == (lot_size / bound) n[i].
    a = m.arrays
    offers = np.flatnonzero(a.n >= 0)
    size = inst.offers.table.lot_size[offers] / a.bound[offers]
    rows = np.arange(len(offers))
    m.lots = _family(m, offers.tolist(), [_quantities(a, rows, offers), _each(a.n[offers], -size)], 0, 0)


def _add_mineral_totals(m: pyo.ConcreteModel, inst: Instance) -> None:
    # A mineral's total is what its offers supply: sum of quantities (measuring units) == Q[j].
    a = m.arrays
    minerals = list(range(len(inst.minerals)))
    rows, offers = _offers_of(inst, minerals)
    m.total = _family(m, minerals, [_quantities(a, rows, offers, a.quantity[offers]), _each(a.Q, -1.0)], 0, 0)


def _add_floors(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Each mineral reaches its hard floor (min_quantity; the target too under min_cost),
    # or, when the floors are elastic, falls short of it by shortage[j] x floor.
    # The row is in units of the floor itself (Q[j] / level >= 1): a floor far below the reference
    # quantity (0.001 t beside a 1e7 t target) would otherwise sit inside HiGHS's feasibility
    # tolerance, and buying nothing would pass for reaching it.
    a = m.arrays
    minerals = [j for j, md in enumerate(inst.minerals) if md.floor > 0]
    level = np.array([inst.minerals[j].floor / inst.minerals[j].unit for j in minerals], dtype=float)
    rows = [_each(a.Q[_offer_array(minerals)], 1.0 / level)]
    if m.elastic_floors:
        m.shortage = pyo.Var(_keys(minerals), bounds=(0, 1))
        a.shortage = _by_key(len(inst.minerals), minerals, m.columns.add(m.shortage))
        rows.append(_each(a.shortage[_offer_array(minerals)], 1.0))
    m.floor = _family(m, minerals, rows, lower=1.0)


def _add_coverage(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Coverage is at most quantity / target (and at most 1, by its bound): cov[j] <= (unit / target) Q[j].
    a = m.arrays
    per_unit = np.array([md.unit / md.mineral.target for md in inst.minerals], dtype=float)
    m.coverage = _family(m, list(range(len(inst.minerals))), [_each(a.cov, 1.0), _each(a.Q, -per_unit)], upper=0)


def money_scale(inst: Instance, j: int) -> float:
    """Mineral j's money unit: its spend cap, or the budget when it has none (or a larger one)."""
    cap = inst.minerals[j].spend_cap
    return inst.request.budget if cap is None else min(cap, inst.request.budget)


def _add_mineral_spend(m: pyo.ConcreteModel, inst: Instance) -> None:
    # S[j] is mineral j's spend (row scaled by its money scale); S[j] <= 1 is its spend cap.
    # One short row per mineral keeps the budget row short too (J entries, not every offer),
    # which HiGHS's cut separation handles far faster at thousands of offers.
    a = m.arrays
    minerals = _spenders(inst)
    scale = np.array([money_scale(inst, j) for j in minerals], dtype=float)
    # every offer's entries, in the row of its mineral (each offer's mineral has an S[j]); a
    # family keeps entries in their order within a row: each mineral's offers in offer order
    offer, position, coef = _offer_spend(a)
    row_of = np.full(len(inst.minerals), -1, dtype=np.int64)
    row_of[minerals] = np.arange(len(minerals))
    row = row_of[a.mineral[offer]]
    own = _offer_array(minerals)
    spend = [(row, position, coef / scale[row]), _each(a.S[own], -scale / scale)]
    m.mineral_spend = _family(m, minerals, spend, 0, 0)


def _add_budget(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Total spend stays within the budget (row scaled by the budget).
    spend = total_spend(m, inst)
    if isinstance(m, Formulation):
        m.budget = Family([None], entries_to_rows(1, [(np.zeros(len(spend[0]), np.int64), *spend)], -np.inf, 1.0))
    else:
        m.budget = pyo.Constraint(expr=InequalityExpression((spend, 1), False))


def total_spend(m: pyo.ConcreteModel, inst: Instance) -> LinearExpression:
    """Total spend as a fraction of the budget."""
    minerals = _spenders(inst)
    scale = np.array([money_scale(inst, j) for j in minerals], dtype=float)
    return m.columns.linear(m.arrays.S[_offer_array(minerals)], scale / inst.request.budget)


# The spend objective is measured in the budget unless the need would cost less than this share of it.
SPEND_UNIT_SHARE = 1e-2


def spend_unit(inst: Instance) -> float:
    """The money unit of the spend objective: the budget, or what the need costs when that is far less.

    What the need costs is each mineral's reference quantity at its cheapest usable unit
    price (tariff included). Spend measured in a budget a million times larger makes the
    objective's coefficients smaller than HiGHS's 1e-7 dual tolerance: a $500 allocation
    can be called optimal beside a $150 one in a $10B budget. (Rows keep their own scales;
    only the objective changes unit, which does not change its optimum.)
    """
    budget = inst.request.budget
    t = inst.offers.table
    if len(t.bound) == 0:
        return budget
    cheapest = np.full(len(inst.minerals), np.inf)
    np.minimum.at(cheapest, t.mineral, np.minimum.reduceat(t.price, t.first_tier[:-1]) * (1 + t.tariff))
    need = np.array([md.reference for md in inst.minerals], dtype=float)
    usable = np.isfinite(cheapest)
    cost = float(need[usable] @ cheapest[usable])
    return cost if 0 < cost < SPEND_UNIT_SHARE * budget else budget


def country_cap_rows(inst: Instance) -> list[tuple[int, int, list[int]]]:
    """(cap index, mineral, offers from the capped countries) for every binding-capable cap."""
    rows = []
    t = inst.offers.table
    for c, cap in enumerate(inst.request.policy.country_caps):
        if cap.max_share >= 1:
            continue
        countries = set(cap.countries)
        listed = None if cap.minerals is None else set(cap.minerals)
        # the capped countries' offers, mineral by mineral, each mineral's in position order (as md.offers)
        numbers = [k for k, name in enumerate(t.country_names) if name in countries]
        hits = np.flatnonzero(np.isin(t.country, numbers))
        minerals = t.mineral[hits]
        order = np.argsort(minerals, kind="stable")
        ends = np.cumsum(np.bincount(minerals, minlength=len(inst.minerals)))
        for j, capped in enumerate(np.split(hits[order], ends[:-1])):
            if len(capped) and (listed is None or inst.minerals[j].mineral.id in listed):
                rows.append((c, j, capped.tolist()))
    return rows


def _add_country_caps(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Quantity from capped countries is at most max_share of the mineral's total.
    a = m.arrays
    caps = country_cap_rows(inst)
    rows = np.repeat(np.arange(len(caps)), [len(capped) for _, _, capped in caps]).astype(np.int64)
    offers = _offer_array([i for _, _, capped in caps for i in capped])
    mineral = _offer_array([j for _, j, _ in caps])
    share = np.array([inst.request.policy.country_caps[c].max_share for c, _, _ in caps], dtype=float)
    size = _share_row_size(np.bincount(rows, weights=a.quantity[offers], minlength=len(caps)))
    capped = [_quantities(a, rows, offers, a.quantity[offers] / size[rows]), _each(a.Q[mineral], -share / size)]
    m.country_cap = _family(m, list(range(len(caps))), capped, upper=0)


def _share_row_size(quantity: np.ndarray) -> np.ndarray:
    """What a share row (offers' quantity <= share x the mineral's total) is divided by.

    The capped offers' bound, in the mineral's measuring unit, when that is less than one unit:
    the row then holds them to HiGHS's tolerance of their own size. Measured in the mineral's
    unit, an offer of 0.01 t beside 1 t could break a 48% share by a tenth of itself inside
    the tolerance. Never below ``SMALLEST_SHARE_ROW`` of the unit: that would put the mineral's
    total in the row at more than a million times the share.
    """
    return np.clip(quantity, SMALLEST_SHARE_ROW, 1.0)


SMALLEST_SHARE_ROW = 1e-6


def _add_supplier_shares(m: pyo.ConcreteModel, inst: Instance) -> None:
    # No offer supplies more than max_supplier_share of its mineral's total.
    # (Not written where the mineral's hard floor implies it: bound_i <= share x floor_j.)
    a = m.arrays
    share = inst.request.policy.max_supplier_share

    floor = np.array([md.floor for md in inst.minerals], dtype=float)
    implied = np.zeros(len(inst.offers), dtype=bool) if m.elastic_floors else a.bound <= share * floor[a.mineral]
    offers = np.flatnonzero(~implied) if share < 1 else np.zeros(0, dtype=np.int64)
    rows = np.arange(len(offers))
    size = _share_row_size(a.quantity[offers])
    capped = [_quantities(a, rows, offers, a.quantity[offers] / size), _each(a.Q[a.mineral[offers]], -share / size)]
    m.supplier_share = _family(m, offers.tolist(), capped, upper=0)


def _add_supplier_counts(m: pyo.ConcreteModel, inst: Instance) -> None:
    # At most max_suppliers offers are used per mineral.
    a = m.arrays
    limit = inst.request.policy.max_suppliers
    minerals = [] if limit is None else [j for j, md in enumerate(inst.minerals) if len(md.offers) > limit]
    rows, offers = _offers_of(inst, minerals)
    m.supplier_count = _family(m, minerals, [(rows, a.y[offers], 1.0)], upper=limit if limit is not None else 0)


def _add_objectives(m: pyo.ConcreteModel, inst: Instance) -> None:
    # score: weighted coverage in [0, 1]; spend: total spend in spend_unit (the budget, as a rule).
    a = m.arrays
    weight = np.array([md.mineral.weight for md in inst.minerals], dtype=float)
    score = m.columns.linear(a.cov, weight / inst.total_weight)
    # The objective is written over the offers, not over S: HiGHS's objective-driven
    # pruning sees the fixed costs and prices directly (measured faster than sum of S_j).
    _, position, coef = _offer_spend(a)
    m.spend_unit = spend_unit(inst)  # plain data: what one unit of the spend objective is worth
    spend = m.columns.linear(position, coef / m.spend_unit)
    if isinstance(m, Formulation):
        m.score, m.spend = score, spend
        return
    m.score = pyo.Expression(expr=score)
    m.spend = pyo.Expression(expr=spend)
    m.max_score = pyo.Objective(expr=m.score, sense=pyo.maximize)
    m.min_spend = pyo.Objective(expr=m.spend, sense=pyo.minimize)
    if inst.request.objective is Objective.MIN_COST:
        m.max_score.deactivate()
    # max_coverage keeps both active, score declared first: it is stage one, and spend,
    # compiled in the same pass, is stage two (solvers.solve.highs.next_stage adds the score row).
