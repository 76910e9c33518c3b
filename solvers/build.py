"""The Pyomo model of one allocation request (see docs/formulation.md).

``create_model(instance)`` returns a ``ConcreteModel`` with both objectives
declared; the score first, and under max_coverage both active (stage one
solves the first, stage two the second on the same compiled matrices). One small function adds each
constraint family. Scaling is part of the formulation, not an afterthought:

* every quantity column is a fraction of its offer's bound (``x`` in [0, 1]);
* every money row is divided by its own right-hand side (the budget, or that
  mineral's spend cap), so a $2,700 cap inside a $20B budget is held to the
  solver's tolerance relative to $2,700, not to $20B;
* every quantity row is measured in its mineral's reference quantity
  (the larger of target and floor).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
from pyomo.core.expr.relational_expr import InequalityExpression

from models import Objective
from solvers.prepare import CostShape, Instance, OfferData
from solvers.rows import Columns, RowMatrix, Rows

# A row's or objective's terms: (position of the variable in the model's Columns, coefficient).
Terms = list[tuple[int, float]]
# A row: its terms, lower bound and upper bound (-inf / +inf where it has none).
Row = tuple[Terms, float, float]

# Stage two may give back this much coverage score (absolute, score in [0, 1]) ...
SCORE_SLACK = 1e-12
# ... and its row is multiplied by this, so the solver's 1e-7 row tolerance means 1e-10 of score.
SCORE_ROW_SCALE = 1e3


def create_model(instance: Instance, elastic_floors: bool = False) -> pyo.ConcreteModel:
    """The model of ``instance``; with ``elastic_floors``, the one ``solvers.diagnose`` minimises shortage in.

    Elastic floors may be missed, by ``shortage[j]`` (a share of the floor), and no
    row is left out as implied by a floor.
    """
    m = pyo.ConcreteModel(name="stockpile")
    m.instance = instance  # plain data; never leaves solvers/
    m.elastic_floors = elastic_floors
    m.columns = Columns()  # every variable by position, for the rows' matrices
    _add_variables(m, instance)
    # Every offer's spend terms, made once for the mineral spend rows and the objective.
    m.offer_spend = [spend_terms(m, i) for i in range(len(instance.offers))]
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
    return m


def release(m: pyo.ConcreteModel) -> None:
    """Let reference counting free ``m`` once it is dropped; it must not be used after this.

    Pyomo's scalar components (the model itself, an objective, a named expression)
    keep themselves in their own ``_data`` dict, ``{None: self}``: a cycle, which
    leaves the whole model to the cycle collector, whose pass over it costs 3.5 ms at
    500 offers against 1 ms when it is freed by reference counting
    (docs/performance.md). Removing those self-entries breaks the cycles; a Pyomo
    whose components are laid out otherwise is left as it is, for the collector.
    """
    for component in (m, *m.component_objects(descend_into=True)):
        data = getattr(component, "_data", None)
        if isinstance(data, dict) and data.get(None) is component:
            del data[None]


def uses_indicator(instance: Instance, od: OfferData) -> bool:
    """Whether the offer needs a binary 'anything bought' variable."""
    limit = instance.request.policy.max_suppliers
    crowded = limit is not None and len(instance.minerals[od.mineral].offers) > limit
    return od.needs_indicator or crowded


def column_offers(m: pyo.ConcreteModel, columns: list[pyo.Var]) -> np.ndarray:
    """The offer (position in instance.offers) of every column; -1 for a mineral's column."""
    owner = {id(var): i for i, var in m.x.items()}
    for per_offer in (m.seg, m.z):
        owner.update((id(var), i) for (i, _), var in per_offer.items())
    for per_offer in (m.y, m.n):
        owner.update((id(var), i) for i, var in per_offer.items())
    return np.fromiter((owner.get(id(var), -1) for var in columns), dtype=np.int64, count=len(columns))


def segmented(od: OfferData) -> bool:
    return len(od.tiers) > 1


# --- variables -----------------------------------------------------------------


def _add_variables(m: pyo.ConcreteModel, inst: Instance) -> None:
    offers = range(len(inst.offers))
    segs = [(i, k) for i, od in enumerate(inst.offers) if segmented(od) for k in range(len(od.tiers))]
    chosen = [(i, k) for i, k in segs if _tier_binary(inst.offers[i], k)]
    # x[i]: quantity bought from single-price offer i, as a fraction of its bound
    # (a tiered offer's is the sum of its tier segments: see fraction_terms).
    m.x = pyo.Var(_keys([i for i in offers if not segmented(inst.offers[i])]), bounds=(0, 1))
    # seg[i, k]: the part of offer i's quantity (as a fraction of its bound) priced at tier k
    # (at most the tier's width: set below).
    m.seg = pyo.Var(_keys(segs), bounds=(0, 1))
    # z[i, k]: tier k is reached (incremental) or chosen (all-units).
    m.z = pyo.Var(_keys(chosen), domain=pyo.Binary)
    # y[i]: anything is bought from offer i.
    m.y = pyo.Var(_keys([i for i in offers if uses_indicator(inst, inst.offers[i])]), domain=pyo.Binary)
    # n[i]: whole lots bought from offer i (at most the lots its bound holds: set below).
    lots = [i for i in offers if inst.offers[i].lots is not None]
    m.n = pyo.Var(_keys(lots), domain=pyo.NonNegativeIntegers)
    # Q[j]: total quantity of mineral j, in units of its reference quantity.
    m.Q = pyo.Var(range(len(inst.minerals)), bounds={j: (0, _quantity_cap(inst, j)) for j in range(len(inst.minerals))})
    # cov[j]: coverage of mineral j, min(1, quantity / target).
    m.cov = pyo.Var(range(len(inst.minerals)), bounds=(0, 1))
    # S[j]: spend on mineral j, in units of its money scale (bound 1 = its cap, or the budget).
    m.S = pyo.Var([j for j, md in enumerate(inst.minerals) if md.offers], bounds=(0, 1))
    m.vars = Variables(*(_positions(m.columns, var) for var in (m.x, m.seg, m.z, m.y, m.n, m.Q, m.cov, m.S)))
    # Upper bounds that differ by index are set one by one: given to Var as a dict,
    # they cost Pyomo's initializer 1.2 us more a variable.
    for (i, k), var in m.seg.items():
        var.setub(_width(inst.offers[i], k))
    for i, var in m.n.items():
        var.setub(inst.offers[i].lots)


@dataclass(slots=True)
class Variables:
    """The position in ``m.columns`` of each of the model's variables, by index, for building its rows."""

    x: dict[int, int]
    seg: dict[tuple[int, int], int]
    z: dict[tuple[int, int], int]
    y: dict[int, int]
    n: dict[int, int]
    Q: dict[int, int]
    cov: dict[int, int]
    S: dict[int, int]


def _positions(columns: Columns, var: pyo.Var) -> dict:
    """Number ``var``'s variables in ``columns``; their positions by index."""
    start = columns.add(var)
    return {key: start + k for k, key in enumerate(var.index_set())}


def _tier_binary(od: OfferData, k: int) -> bool:
    if od.shape == CostShape.ALL_UNITS:
        return True
    return od.shape == CostShape.INCREMENTAL and k > 0


def _width(od: OfferData, k: int) -> float:
    t = od.tiers[k]
    if od.shape == CostShape.ALL_UNITS:
        return t.hi / od.bound
    return (t.hi - t.lo) / od.bound


def _quantity_cap(inst: Instance, j: int) -> float | None:
    md = inst.minerals[j]
    total = sum(inst.offers[i].bound for i in md.offers)
    if md.mineral.max_quantity is not None:
        total = min(total, md.mineral.max_quantity)
    return total / md.reference


# --- helpers -------------------------------------------------------------------


def _scaled(terms: Iterable[tuple[int, float]], scale: float = 1.0) -> Terms:
    """c / scale for every term, zero coefficients left out."""
    return [(v, c / scale) for v, c in terms if c != 0]


def _expression(m: pyo.ConcreteModel, terms: Terms, scale: float = 1.0) -> LinearExpression:
    """sum(c / scale * v) as a Pyomo expression (the objectives and the budget), zero coefficients left out."""
    variables = m.columns.vars
    return LinearExpression([MonomialTermExpression((c / scale, variables[v])) for v, c in terms if c != 0])


# Rows compared variable with variable are written as Pyomo itself would standardise them
# (``lhs <= rhs`` as ``lhs - rhs <= 0``, terms in the same order, zero coefficients kept
# for the reader to drop), so that the compiled matrices and column order are exactly
# what they were when these rows were Pyomo relations.


def _at_most(terms: Terms, bound: float) -> Row:
    """terms <= bound."""
    return terms, -math.inf, bound


def _at_least(terms: Terms, bound: float) -> Row:
    """terms >= bound."""
    return terms, bound, math.inf


def _equal(terms: Terms, value: float) -> Row:
    """terms == value."""
    return terms, value, value


def _le(lhs: Terms, rhs: Terms) -> Row:
    """lhs <= rhs, both sides with variables."""
    return _at_most(lhs + [(v, -c) for v, c in rhs], 0)


def _eq(lhs: Terms, rhs: Terms) -> Row:
    """lhs == rhs, both sides with variables."""
    return _equal(lhs + [(v, -c) for v, c in rhs], 0)


def _keys(keys: list) -> pyo.SetOf:
    """An index set over ``keys`` as they are, in their order.

    Given a plain list, Pyomo copies it into a new Set and normalises and checks
    the dimension of every key: half the time of building a tuple-indexed Var.
    The keys here are made by this module, distinct and of one shape.
    """
    return pyo.SetOf(keys)


def _rows(m: pyo.ConcreteModel, index: Iterable, row: Callable[..., Row]) -> Rows:
    """A constraint family from a function of the index, held as one matrix (solvers.rows)."""
    keys = list(index)
    return Rows(keys, RowMatrix([row(*key) if isinstance(key, tuple) else row(key) for key in keys]), m.columns)


def spend_terms(m: pyo.ConcreteModel, i: int) -> Terms:
    """Spend of offer i in money: goods x (1 + tariff) + fixed cost if used."""
    v = m.vars
    od: OfferData = m.instance.offers[i]
    factor = od.money_factor * od.bound
    if segmented(od):
        terms = [(v.seg[i, k], factor * t.price) for k, t in enumerate(od.tiers)]
    else:
        terms = [(v.x[i], factor * od.tiers[0].price)]
    if od.offer.fixed_cost > 0:
        terms.append((v.y[i], od.offer.fixed_cost))
    return terms


def fraction_terms(m: pyo.ConcreteModel, i: int, scale: float = 1.0) -> Terms:
    """scale x the quantity of offer i as a fraction of its bound: x[i], or the sum of its tier segments.

    A tiered offer has no column of its own for the whole: a row x[i] = sum of seg[i, k]
    and its column per tiered offer would only be substituted back by HiGHS's presolve.
    """
    v = m.vars
    od: OfferData = m.instance.offers[i]
    if segmented(od):
        return [(v.seg[i, k], scale) for k in range(len(od.tiers))]
    return [(v.x[i], scale)]


def quantity_terms(m: pyo.ConcreteModel, i: int) -> Terms:
    """Quantity of offer i in its mineral's reference units."""
    od: OfferData = m.instance.offers[i]
    return fraction_terms(m, i, od.bound / m.instance.minerals[od.mineral].reference)


# --- constraint families ---------------------------------------------------------


def _add_incremental_order(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Incremental tiers fill in order: tier k holds units only once tier k-1 is full.
    # (So z[i, k] <= z[i, k-1]: tier k-1's two rows imply it, widths being > 0, and it is not written.)
    v = m.vars
    rows = [(i, k) for (i, k) in m.z.index_set() if inst.offers[i].shape == CostShape.INCREMENTAL]
    m.tier_open = _rows(m, rows, lambda i, k: _le([(v.seg[i, k], 1)], [(v.z[i, k], _width(inst.offers[i], k))]))
    m.tier_full = _rows(m, rows, lambda i, k: _le([(v.z[i, k], _width(inst.offers[i], k - 1))], [(v.seg[i, k - 1], 1)]))


def _add_all_units_choice(m: pyo.ConcreteModel, inst: Instance) -> None:
    # All-units: exactly one tier is chosen when anything is bought, and the quantity lies in it.
    v = m.vars
    offers = [i for i, od in enumerate(inst.offers) if od.shape == CostShape.ALL_UNITS]
    m.tier_pick = _rows(
        m, offers, lambda i: _eq([(v.z[i, k], 1) for k in range(len(inst.offers[i].tiers))], [(v.y[i], 1)])
    )
    rows = [(i, k) for i in offers for k in range(len(inst.offers[i].tiers))]

    def within_low(i: int, k: int):
        od = inst.offers[i]
        return _le([(v.z[i, k], od.tiers[k].lo / od.bound)], [(v.seg[i, k], 1)])

    # A tier from zero has no lower row: 0 <= seg[i, k] is its bound.
    m.tier_low = _rows(m, [(i, k) for i, k in rows if inst.offers[i].tiers[k].lo > 0], within_low)
    m.tier_high = _rows(m, rows, lambda i, k: _le([(v.seg[i, k], 1)], [(v.z[i, k], _width(inst.offers[i], k))]))


def _add_usage_links(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Nothing is bought from an offer unless it is marked used.
    # (All-units offers need no row: x = sum of seg <= sum of width x z <= sum of z = y, widths being <= 1.)
    v = m.vars
    rows = [i for i in m.y.index_set() if not _all_units_linked(inst.offers[i])]
    m.use_link = _rows(m, rows, lambda i: _le(fraction_terms(m, i), [(v.y[i], 1)]))


def _all_units_linked(od: OfferData) -> bool:
    """Whether the all-units rows already tie the offer's quantity to its usage binary."""
    return od.shape == CostShape.ALL_UNITS and all(_width(od, k) <= 1 for k in range(len(od.tiers)))


def _add_min_orders(m: pyo.ConcreteModel, inst: Instance) -> None:
    # A used offer supplies at least its minimum order.
    v = m.vars
    rows = [i for i in m.y.index_set() if inst.offers[i].offer.min_order > 0 and inst.offers[i].lots is None]
    m.min_order = _rows(
        m, rows, lambda i: _le([(v.y[i], inst.offers[i].offer.min_order / inst.offers[i].bound)], fraction_terms(m, i))
    )
    lot_rows = [i for i in m.y.index_set() if inst.offers[i].lots is not None]
    m.min_lots = _rows(m, lot_rows, lambda i: _le([(v.y[i], inst.offers[i].min_lots)], [(v.n[i], 1)]))


def _add_lots(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Lot offers sell whole lots only.
    v = m.vars

    def whole_lots(i: int):
        od = inst.offers[i]
        return _eq(fraction_terms(m, i), [(v.n[i], od.offer.lot_size / od.bound)])

    m.lots = _rows(m, m.n.index_set(), whole_lots)


def _add_mineral_totals(m: pyo.ConcreteModel, inst: Instance) -> None:
    # A mineral's total is what its offers supply.
    v = m.vars

    def total(j: int):
        terms = [t for i in inst.minerals[j].offers for t in quantity_terms(m, i)]
        return _equal(_scaled(terms + [(v.Q[j], -1.0)]), 0)

    m.total = _rows(m, range(len(inst.minerals)), total)


def _add_floors(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Each mineral reaches its hard floor (min_quantity; the target too under min_cost),
    # or, when the floors are elastic, falls short of it by shortage[j] x floor.
    v = m.vars
    rows = [j for j, md in enumerate(inst.minerals) if md.floor > 0]
    if m.elastic_floors:
        m.shortage = pyo.Var(_keys(rows), bounds=(0, 1))
        short = _positions(m.columns, m.shortage)

    def floor(j: int):
        level = inst.minerals[j].floor / inst.minerals[j].reference
        terms = [(v.Q[j], 1)] + ([(short[j], level)] if m.elastic_floors else [])
        return _at_least(terms, level)

    m.floor = _rows(m, rows, floor)


def _add_coverage(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Coverage is at most quantity / target (and at most 1, by its bound).
    v = m.vars

    def cov(j: int):
        md = inst.minerals[j]
        return _le([(v.cov[j], 1)], [(v.Q[j], md.reference / md.mineral.target)])

    m.coverage = _rows(m, range(len(inst.minerals)), cov)


def money_scale(inst: Instance, j: int) -> float:
    """Mineral j's money unit: its spend cap, or the budget when it has none (or a larger one)."""
    cap = inst.minerals[j].spend_cap
    return inst.request.budget if cap is None else min(cap, inst.request.budget)


def _add_mineral_spend(m: pyo.ConcreteModel, inst: Instance) -> None:
    # S[j] is mineral j's spend (row scaled by its money scale); S[j] <= 1 is its spend cap.
    # One short row per mineral keeps the budget row short too (J entries, not every offer),
    # which HiGHS's cut separation handles far faster at thousands of offers.
    v = m.vars

    def spend(j: int):
        terms = [t for i in inst.minerals[j].offers for t in m.offer_spend[i]]
        return _equal(_scaled(terms + [(v.S[j], -money_scale(inst, j))], money_scale(inst, j)), 0)

    m.mineral_spend = _rows(m, m.S.index_set(), spend)


def _add_budget(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Total spend stays within the budget (row scaled by the budget).
    m.budget = pyo.Constraint(expr=InequalityExpression((total_spend(m, inst), 1), False))


def total_spend(m: pyo.ConcreteModel, inst: Instance) -> LinearExpression:
    """Total spend as a fraction of the budget."""
    v = m.vars
    return _expression(m, [(v.S[j], money_scale(inst, j)) for j in m.S.index_set()], inst.request.budget)


def country_cap_rows(inst: Instance) -> list[tuple[int, int, list[int]]]:
    """(cap index, mineral, offers from the capped countries) for every binding-capable cap."""
    rows = []
    for c, cap in enumerate(inst.request.policy.country_caps):
        countries = set(cap.countries)
        listed = None if cap.minerals is None else set(cap.minerals)
        for j, md in enumerate(inst.minerals):
            if listed is not None and md.mineral.id not in listed:
                continue
            capped = [i for i in md.offers if inst.offers[i].offer.country in countries]
            if capped and cap.max_share < 1:
                rows.append((c, j, capped))
    return rows


def _add_country_caps(m: pyo.ConcreteModel, inst: Instance) -> None:
    # Quantity from capped countries is at most max_share of the mineral's total.
    v = m.vars
    rows = country_cap_rows(inst)
    share = inst.request.policy.country_caps

    def cap(r: int):
        c, j, capped = rows[r]
        terms = [t for i in capped for t in quantity_terms(m, i)]
        return _at_most(_scaled(terms + [(v.Q[j], -share[c].max_share)]), 0)

    m.country_cap = _rows(m, range(len(rows)), cap)


def _add_supplier_shares(m: pyo.ConcreteModel, inst: Instance) -> None:
    # No offer supplies more than max_supplier_share of its mineral's total.
    # (Not written where the mineral's hard floor implies it: bound_i <= share x floor_j.)
    v = m.vars
    share = inst.request.policy.max_supplier_share

    def implied(od: OfferData) -> bool:
        return not m.elastic_floors and od.bound <= share * inst.minerals[od.mineral].floor

    rows = [] if share >= 1 else [i for i, od in enumerate(inst.offers) if not implied(od)]

    def cap(i: int):
        return _at_most(_scaled(quantity_terms(m, i) + [(v.Q[inst.offers[i].mineral], -share)]), 0)

    m.supplier_share = _rows(m, rows, cap)


def _add_supplier_counts(m: pyo.ConcreteModel, inst: Instance) -> None:
    # At most max_suppliers offers are used per mineral.
    v = m.vars
    limit = inst.request.policy.max_suppliers
    rows = [] if limit is None else [j for j, md in enumerate(inst.minerals) if len(md.offers) > limit]
    m.supplier_count = _rows(m, rows, lambda j: _at_most([(v.y[i], 1) for i in inst.minerals[j].offers], limit))


def _add_objectives(m: pyo.ConcreteModel, inst: Instance) -> None:
    # score: weighted coverage in [0, 1]; spend: total spend as a fraction of the budget.
    v = m.vars
    weight = inst.total_weight
    m.score = pyo.Expression(
        expr=_expression(m, [(v.cov[j], md.mineral.weight / weight) for j, md in enumerate(inst.minerals)])
    )
    # The objective is written over the offers, not over S: HiGHS's objective-driven
    # pruning sees the fixed costs and prices directly (measured faster than sum of S_j).
    spend = [t for terms in m.offer_spend for t in terms]
    m.spend = pyo.Expression(expr=_expression(m, spend, inst.request.budget))
    m.max_score = pyo.Objective(expr=m.score, sense=pyo.maximize)
    m.min_spend = pyo.Objective(expr=m.spend, sense=pyo.minimize)
    if inst.request.objective is Objective.MIN_COST:
        m.max_score.deactivate()
    # max_coverage keeps both active, score declared first: it is stage one, and spend,
    # compiled in the same pass, is stage two (solvers.highs.next_stage adds the score row).
