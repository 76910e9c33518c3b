"""A fast construction heuristic: a valid allocation in a fraction of a second, no solver.

Every rule but the budget lives inside one mineral (supplier counts and shares, country
caps, spend caps, floors and caps on quantity, minimum orders, lots, tiers), so the
heuristic works in two steps:

1. For each mineral, a few *plans*: small groups of its cheapest offers (by spend per unit
   at their bound, tariff and fixed cost included), no more than ``max_suppliers`` and
   enough that none needs to supply more than ``max_supplier_share``, each bought at a
   few total quantities: split equally, with offers without lots matched to the largest
   lot order (two suppliers capped at half must buy exactly as much), or the cheapest
   filled first. A plan's quantities are whole lots and at least the minimum order of
   every offer it uses, lowered offer by offer until the share rule and the country caps
   hold; a plan that breaks any rule of its mineral is dropped. The tries per mineral
   are bounded (``TOTAL_TRIES``), so the time stays a fraction of a second at 50,000 offers.
   For a floor no group reaches: two offers at the least quantity both sell (``_Builder.pairs``;
   under a share cap of one half two suppliers must buy exactly as much, and lots seldom agree),
   then the mineral's own small MIP (``_mineral_mip``).
2. Across minerals, one plan each: the cheapest that meets the mineral's floor (nothing,
   without one), then, under ``max_coverage``, upgrades in order of coverage gained per
   dollar while the budget lasts (the greedy of the multiple-choice knapsack).

The result is plain quantities per offer of the request; the engine checks them with
``check_result`` like any answer, and hands them to HiGHS as its first incumbent
(``start_values``, when asked). When it finds nothing, ``Construction.blocked`` says which rule stood
in the way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from models import Objective
from solvers.build.program import country_cap_rows, money_scale
from solvers.prepare.instance import CostShape, Instance, whole_lots
from solvers.prepare.pricing import offer_cost

# Offers of a mineral the groups are drawn from (its cheapest), and the most groups tried.
CANDIDATES = 8
MOST_GROUPS = 20
# From this many tries per mineral, half as many candidates more and more groups (a group is
# tried at about 12 levels and splits).
RICH_TRIES = 300
# Groups of the cheapest k offers are tried up to this many more than the fewest allowed.
LARGER = 8
# Plans tried in all (about 40 us each), but at least MIN_TRIES per mineral.
TOTAL_TRIES = 4_000
MIN_TRIES = 12
# Rules are held to this much (relative) here; the check allows 1e-6.
SLACK = 1e-9
# Plans a pair search makes at most (see _Builder.pairs), the steps it takes at most, and the
# offers of a mineral (its cheapest per unit) it pairs: 200 make 19,900 pairs, about 20 ms to rank.
PAIR_PLANS = 8
PAIR_STEPS = 20_000
PAIR_OFFERS = 200


@dataclass(slots=True)
class Plan:
    """Quantities of some offers of one mineral (positions in ``Instance.offers``)."""

    quantity: dict[int, float]
    total: float
    spend: float
    value: float  # weighted coverage, as a share of the request's total weight


@dataclass(slots=True)
class Construction:
    """The heuristic's answer: a quantity per offer of the request, or why there is none."""

    quantities: list[float] | None
    blocked: str | None = None
    plans: list[Plan] = field(default_factory=list)  # the plan chosen for each mineral


def construct(instance: Instance, time_limit_s: float | None = None, mip_s: float | None = None) -> Construction:
    """Quantities for every offer of ``instance.request`` (0 for unused and dropped offers).

    ``time_limit_s``: the solve's (default: the request's); a mineral's own MIP gets a tenth of it at most,
    or ``mip_s`` when given.
    """
    limit = instance.request.options.time_limit_s if time_limit_s is None else time_limit_s
    mip_s = min(MINERAL_MIP_S, 0.1 * limit) if mip_s is None else mip_s
    request = instance.request
    t = instance.offers.table
    caps_by_mineral: dict[int, list[tuple[float, set[int]]]] = {}
    for c, j, offers in country_cap_rows(instance):
        caps_by_mineral.setdefault(j, []).append((request.policy.country_caps[c].max_share, set(offers)))
    builder = _Builder(instance, caps_by_mineral)
    per_mineral: list[list[Plan]] = []
    for md in instance.minerals:
        plans = builder.plans(md)
        if md.floor > 0:
            plans = [p for p in plans if p.total >= md.floor * (1 - SLACK)]
            if not plans:  # two offers at one common quantity, for a floor no group reached
                plans = builder.pairs(md)
            if not plans:  # the mineral's own small MIP
                plans = [p for p in [_mineral_mip(builder, md, mip_s)] if p is not None]
            if not plans:
                return Construction(None, _floor_blocked(instance, md))
        else:
            plans.append(Plan({}, 0.0, 0.0, 0.0))
        if request.objective is Objective.MAX_COVERAGE:
            plans = _frontier(plans)
        per_mineral.append(plans)
    chosen = [min(plans, key=lambda p: (p.spend, -p.value)) for plans in per_mineral]
    spent = sum(p.spend for p in chosen)
    if spent > request.budget:
        return Construction(
            None,
            f"the budget: the cheapest allocation the heuristic found that meets every floor costs "
            f"{spent:,.2f}, more than the budget of {request.budget:,.2f}",
        )
    if request.objective is Objective.MAX_COVERAGE:
        chosen = _upgrade(per_mineral, chosen, request.budget)
    quantities = [0.0] * len(request.suppliers)
    for plan in chosen:
        for p, q in plan.quantity.items():
            quantities[int(t.index[p])] = q
    return Construction(quantities, None, chosen)


def _upgrade(per_mineral: list[list[Plan]], chosen: list[Plan], budget: float) -> list[Plan]:
    """Better plans while the budget lasts: the most coverage gained per dollar first."""
    chosen = list(chosen)
    left = budget - sum(p.spend for p in chosen)
    while True:
        best, best_ratio = None, 0.0
        for j, plans in enumerate(per_mineral):
            now = chosen[j]
            for p in plans:
                gain, extra = p.value - now.value, p.spend - now.spend
                if gain <= 1e-12 or extra > left * (1 - SLACK):
                    continue
                ratio = gain / max(extra, 1e-300)
                if ratio > best_ratio:
                    best, best_ratio = (j, p), ratio
        if best is None:
            return chosen
        j, p = best
        left -= p.spend - chosen[j].spend
        chosen[j] = p


@dataclass(slots=True)
class _Columns:
    index: list[int]
    bound: list[float]
    lots: list[float]
    lot_size: list[float]
    min_lots: list[float]
    min_order: list[float]


def _frontier(plans: list[Plan]) -> list[Plan]:
    """The plans no other plan beats: each covers more than every cheaper one."""
    out: list[Plan] = []
    for plan in sorted(plans, key=lambda p: (p.spend, -p.value)):
        if not out or plan.value > out[-1].value + 1e-15:
            out.append(plan)
    return out


class _Builder:
    """Plans for one mineral at a time."""

    def __init__(self, instance: Instance, caps: dict[int, list[tuple[float, set[int]]]]) -> None:
        self.instance = instance
        self.request = instance.request
        self.caps = caps
        # the table's columns as Python lists: one item of a numpy array is slow to read
        table = instance.offers.table
        self.t = _Columns(
            index=table.index.tolist(),
            bound=table.bound.tolist(),
            lots=table.lots.tolist(),
            lot_size=table.lot_size.tolist(),
            min_lots=table.min_lots.tolist(),
            min_order=table.min_order.tolist(),
        )
        self.share = self.request.policy.max_supplier_share
        self.limit = self.request.policy.max_suppliers
        self.suppliers = self.request.suppliers
        self.weight = instance.total_weight
        # For ranking offers, worked out for all at once: spend per unit (the mean of the first and
        # last tier's price, tariff and the fixed cost over the bound included) and the spend of the
        # least order (minimum order or lots, at the first tier's price)
        first, last = table.price[table.first_tier[:-1]], table.price[table.first_tier[1:] - 1]
        rate = 1 + table.tariff
        self.unit = ((first + last) / 2 * rate + table.fixed / table.bound).tolist()
        least = np.maximum(table.min_order, table.min_lots * table.lot_size)
        self.least_spend = (least * first * rate + table.fixed).tolist()
        # plans tried per mineral: all of them on a few minerals, fewer on many (time stays bounded)
        self.tries = max(MIN_TRIES, TOTAL_TRIES // max(1, len(instance.minerals)))
        self._spends: dict[tuple[int, float], float] = {}

    def offer(self, p: int):
        return self.suppliers[int(self.t.index[p])]

    def spend(self, p: int, q: float) -> float:
        if q <= 0:
            return 0.0
        key = (p, q)
        found = self._spends.get(key)
        if found is None:
            found = self._spends[key] = offer_cost(self.request, self.offer(p), q).spend
        return found

    def plans(self, md, candidates: int | None = None) -> list[Plan]:
        """Valid plans of mineral ``md``, from groups drawn among its ``candidates`` cheapest offers (and
        a few more): if none reaches its floor, once more from twice as many. With many tries to spend
        (few minerals), more candidates and groups."""
        first = candidates is None
        if candidates is None:
            candidates = CANDIDATES if self.tries < RICH_TRIES else 3 * CANDIDATES // 2
        offers = md.offers
        if not offers:
            return []
        t = self.t
        unit = {p: self.unit[p] for p in offers}
        least_spend = {p: self.least_spend[p] for p in offers}
        least = 1 if self.share >= 1 else math.ceil(1 / self.share - 1e-9)
        most = len(offers) if self.limit is None else min(self.limit, len(offers))
        if least > most:
            return []
        by_unit = sorted(offers, key=unit.__getitem__)
        # the cheapest per unit, the cheapest to start buying from, and the cheapest without lots
        # (which can match any partner's quantity exactly)
        pool = list(
            dict.fromkeys(
                by_unit[:candidates]
                + sorted(offers, key=least_spend.__getitem__)[: candidates // 2]
                + [p for p in by_unit if t.lots[p] == 0][: candidates // 2]
            )
        )
        groups = self._groups(by_unit, pool, unit, least, most)
        money = money_scale(self.instance, md.index)
        # the target first, then the floor, then less and more; within a level, every group
        levels = [1.0, *([md.floor / md.reference] if 0 < md.floor < md.reference else []), 0.5, 1.2]
        hows = ("match", "equal", "fill")
        tries = [(level, how, group) for level in levels for how in hows for group in groups]
        tries = [(lv, how, g) for lv, how, g in tries if how != "fill" or len(g) > least or self.share >= 1]
        out = []
        floor = md.floor * (1 - SLACK)
        reached = floor <= 0
        for n, (level, how, group) in enumerate(tries):
            if n >= self.tries and reached:  # past its share of tries, a mineral goes on only for its floor
                break
            plan = self._plan(md, group, level * md.reference, how, money)
            if plan is not None:
                out.append(plan)
                reached = reached or plan.total >= floor
        if not reached and first and len(offers) > candidates:
            return self.plans(md, 2 * candidates)
        return out

    def _groups(self, ranked: list[int], pool: list[int], unit: dict, least: int, most: int) -> list[tuple[int, ...]]:
        """Groups of ``least`` to ``least + 1`` (at most ``most``) offers, cheapest first."""
        sizes = range(least, min(most, least + 1) + 1)
        groups: list[tuple[int, ...]] = []
        for k in sizes:
            if k <= 3:
                # When each of k offers must supply exactly 1/k (the share rule at k suppliers), two
                # offers sold in lots seldom agree: groups with at most one come first.
                exact = k * self.share <= 1 + 1e-9
                lots = self.t.lots
                found = sorted(
                    combinations(pool, k),
                    key=lambda g: (exact and sum(lots[p] > 0 for p in g) > 1, sum(map(unit.__getitem__, g))),
                )
                groups += found[: max(MOST_GROUPS, self.tries // 12)]
            else:  # the k cheapest, then each with one of them swapped for the next cheapest
                groups.append(tuple(ranked[:k]))
                groups += [tuple(ranked[:i] + ranked[i + 1 : k + 1]) for i in range(min(k, len(ranked) - k))]
        # more offers, where more are allowed: the cheapest k, for a floor that fewer cannot reach
        groups += [tuple(ranked[:k]) for k in range(sizes.stop, min(most, least + LARGER) + 1)]
        if self.share >= 1:  # with no share rule, the cheapest offers filled in turn
            groups.append(tuple(ranked[:most]))
        return groups

    def pairs(self, md, most: int = PAIR_PLANS) -> list[Plan]:
        """Valid plans of two offers of mineral ``md`` at one common quantity that reaches its floor: the
        least such quantity of each pair, every pair of its ``PAIR_OFFERS`` cheapest offers in turn,
        the cheapest pairs (by spend per unit) first, up to ``most`` plans or ``PAIR_STEPS`` steps.

        Under a share cap of one half and at most two suppliers, a floor is met only by two offers
        buying exactly as much; with lots, only by pairs whose lots agree on a quantity, which groups
        of the cheapest offers seldom hold. None when the rules allow no two offers (a share cap
        below one half, or one supplier at most)."""
        if self.share < 0.5 or (self.limit is not None and self.limit < 2) or md.floor <= 0:
            return []
        t = self.t
        half = md.floor / 2 * (1 + SLACK)
        offers = sorted(md.offers, key=self.unit.__getitem__)[:PAIR_OFFERS]
        pairs = sorted(
            ((i, k) for a, i in enumerate(offers) for k in offers[a + 1 :]),
            key=lambda ik: self.unit[ik[0]] + self.unit[ik[1]],
        )
        money = money_scale(self.instance, md.index)
        out: list[Plan] = []
        steps = 0
        for i, k in pairs:
            if t.lots[i] == 0 and t.lots[k] > 0:
                i, k = k, i  # the offer in lots first
            q, used = _common(t, i, k, half)
            steps += used
            if q is not None:
                amount = 2 * q
                spend = self.spend(i, q) + self.spend(k, q)
                plan = self._valid(md, {i: q, k: q}, amount, spend) if spend <= money * (1 - SLACK) else None
                if plan is not None:
                    out.append(plan)
                    if len(out) >= most:
                        break
            if steps >= PAIR_STEPS:
                break
        return out

    # --- one plan -------------------------------------------------------------------

    def _allowed(self, p: int, want: float, up: bool) -> float:
        """The quantity of offer p nearest ``want`` that it sells (0: none): below it, or above when ``up``."""
        t = self.t
        bound = float(t.bound[p])
        if want <= 0:
            return 0.0
        lots = float(t.lots[p])
        if lots > 0:
            lot = float(t.lot_size[p])
            n = math.ceil(want / lot * (1 - 1e-12)) if up else math.floor(want / lot * (1 + 1e-12))
            n = min(max(n, float(t.min_lots[p])), lots)
            return float(whole_lots(n, lot))
        return min(max(want, float(t.min_order[p])), bound)

    def _lower(self, p: int, cap: float) -> float:
        """The most offer p sells that is at most ``cap`` (0 when even its minimum order is more)."""
        t = self.t
        lots = float(t.lots[p])
        if lots > 0:
            lot = float(t.lot_size[p])
            n = min(math.floor(cap / lot * (1 + 1e-12)), lots)
            q = float(whole_lots(n, lot)) if n >= t.min_lots[p] else 0.0
            return q if q <= cap * (1 + SLACK) else 0.0
        q = min(cap, float(t.bound[p]))
        return q if q >= t.min_order[p] and q > 0 else 0.0

    def _plan(self, md, group: tuple[int, ...], total: float, how: str, money: float) -> Plan | None:
        """The group's quantities for about ``total``: split equally (``equal``), then offers without lots
        raised to their share of the rest (``match``), or the cheapest filled first (``fill``)."""
        for _ in range(4):  # shrink the total to fit the mineral's money and quantity caps
            q = self._quantities(md, group, total, how)
            if q is None:
                return None
            amount = sum(q.values())
            spend = sum(self.spend(p, v) for p, v in q.items())
            shrink = 1.0
            if spend > money * (1 - SLACK):
                shrink = min(shrink, money / spend * 0.98)
            cap = md.mineral.max_quantity
            if cap is not None and amount > cap * (1 - SLACK):
                shrink = min(shrink, cap / amount * 0.98)
            if shrink == 1.0:
                return self._valid(md, q, amount, spend)
            total = amount * shrink
        return None

    def _quantities(self, md, group: tuple[int, ...], total: float, how: str) -> dict[int, float] | None:
        t = self.t
        if how == "fill":  # cheapest first, each up to its bound and the share of the total
            q, left = {}, total
            for p in group:
                want = min(left, float(t.bound[p]), self.share * total)
                q[p] = self._allowed(p, want, up=False) if want > 0 else 0.0
                left -= q[p]
        else:  # an equal split, lots rounded up
            q = {p: self._allowed(p, total / len(group), up=True) for p in group}
            if how == "match":  # offers without lots matched to the largest lot order
                top = max((q[p] for p in group if t.lots[p] > 0), default=0.0)
                for p in group:
                    if t.lots[p] == 0 and top > 0:
                        q[p] = self._allowed(p, top, up=True)
        # lower offers until no one supplies more than its share, and no capped country more than its cap
        for _ in range(60):
            changed = False
            amount = sum(q.values())
            if self.share < 1:
                for p in group:
                    if q[p] > 0:
                        cap = self.share * (amount - q[p]) / (1 - self.share)
                        if q[p] > cap * (1 + SLACK):
                            lowered = self._lower(p, cap)
                            amount += lowered - q[p]
                            q[p], changed = lowered, True
            for share, capped in self.caps.get(md.index, []):
                inside = sum(v for p, v in q.items() if p in capped)
                room = share * (amount - inside) / (1 - share) if share < 1 else math.inf
                if inside > room * (1 + SLACK):
                    for p in group:
                        if p in capped and q[p] > 0:
                            lowered = self._lower(p, q[p] * room / inside)
                            amount += lowered - q[p]
                            q[p], changed = lowered, True
            if not changed and how == "match" and self.share < 1:
                for p in group:  # offers without lots up to their share of the rest: the share rule still holds
                    if t.lots[p] == 0:
                        most = min(float(t.bound[p]), self.share * (amount - q[p]) / (1 - self.share))
                        if most > q[p] and most >= t.min_order[p]:
                            amount += most - q[p]
                            q[p], changed = most, True
                how = "equal"  # once: lowering follows if a country cap is now broken
            if not changed:
                break
        else:
            return None
        q = {p: v for p, v in q.items() if v > 0}
        return q or None

    def _valid(self, md, q: dict[int, float], amount: float, spend: float) -> Plan | None:
        """The plan, if it keeps every rule of its mineral (the budget is the caller's)."""
        t = self.t
        if self.limit is not None and len(q) > self.limit:
            return None
        for p, v in q.items():
            if v > t.bound[p] * (1 + SLACK) or v < t.min_order[p] * (1 - SLACK):
                return None
            if self.share < 1 and v > self.share * amount * (1 + SLACK):
                return None
        for share, capped in self.caps.get(md.index, []):
            if sum(v for p, v in q.items() if p in capped) > share * amount * (1 + SLACK):
                return None
        m = md.mineral
        if m.max_quantity is not None and amount > m.max_quantity * (1 + SLACK):
            return None
        if md.spend_cap is not None and spend > md.spend_cap * (1 - SLACK):
            return None
        if spend > self.request.budget:
            return None
        value = m.weight * min(1.0, amount / m.target) / self.weight
        return Plan(q, amount, spend, value)


def _common(t: _Columns, i: int, k: int, least: float) -> tuple[float | None, int]:
    """The least quantity of at least ``least`` that offers i and k both sell (i in lots if either is),
    or None; and the steps it took."""
    if t.lots[i] == 0:  # neither in lots: the overlap of their ranges
        q = max(least, t.min_order[i], t.min_order[k])
        return (q if q <= min(t.bound[i], t.bound[k]) else None), 1
    lot = t.lot_size[i]
    n = max(t.min_lots[i], math.ceil(least / lot * (1 - 1e-12)))
    if t.lots[k] == 0:  # k takes any quantity of its range: i's least lots within it
        n = max(n, math.ceil(t.min_order[k] / lot * (1 - 1e-12)))
        q = float(whole_lots(n, lot)) if n <= t.lots[i] else math.inf
        return (q if q <= t.bound[k] * (1 + SLACK) and q >= t.min_order[k] else None), 1
    other = t.lot_size[k]
    steps = 0
    while n <= t.lots[i]:  # both in lots: the least count of i's lots that is a whole count of k's
        steps += 1
        q = float(whole_lots(n, lot))
        m = round(q / other)
        if m > t.lots[k]:
            break
        if m >= t.min_lots[k] and float(whole_lots(m, other)) == q:
            return q, steps
        n += 1
    return None, max(steps, 1)


# The most time a mineral's own MIP may take (see _mineral_mip), and a tenth of the solve's at most.
MINERAL_MIP_S = 1.0


def _mineral_mip(builder: _Builder, md, seconds: float) -> Plan | None:
    """A plan for mineral ``md`` alone, solved as its own request (its offers, its rules) for up to
    ``seconds``: every rule but the budget lives inside one mineral, and one mineral's model is
    small. For a floor the groups did not reach; None when that finds nothing either."""
    from solvers.engine import allocate  # the engine uses this module
    from solvers.errors import SolverError
    from solvers.tuning import EngineTuning

    request = builder.request
    m = md.mineral
    caps = [
        cap.model_copy(update={"minerals": None})
        for cap in request.policy.country_caps
        if cap.minerals is None or m.id in cap.minerals
    ]
    offers = md.offers
    t = builder.t
    sub = request.model_copy(
        update={
            "minerals": [m],
            "suppliers": [builder.suppliers[t.index[p]] for p in offers],
            "policy": request.policy.model_copy(update={"country_caps": caps}),
        }
    )
    try:
        sub = type(request).model_validate(sub.model_dump())
        options = EngineTuning(time_limit_s=seconds, construct=False, diagnose=False)
        result = allocate(sub, options)
    except (SolverError, MemoryError, ValueError):  # the full model, larger, is still to be built
        return None
    if not result.status.has_allocation or not result.allocations:
        return None
    position = {builder.suppliers[t.index[p]].id: p for p in offers}
    q = {position[line.supplier_id]: line.quantity for line in result.allocations}
    return builder._valid(md, q, sum(q.values()), sum(builder.spend(p, v) for p, v in q.items()))


def _floor_blocked(instance: Instance, md) -> str:
    """Which rule keeps mineral ``md`` from its floor, as far as the heuristic can tell."""
    m = md.mineral
    policy = instance.request.policy
    what = "its target" if md.floor >= m.target else f"its min_quantity of {m.min_quantity:g}"
    if not md.offers:
        return f"mineral {m.id}: no usable offer can supply {what} (see the dropped offers)"
    least = 1 if policy.max_supplier_share >= 1 else math.ceil(1 / policy.max_supplier_share - 1e-9)
    if policy.max_suppliers is not None and least > policy.max_suppliers:
        return (
            f"mineral {m.id}: max_supplier_share {policy.max_supplier_share:g} needs at least {least} suppliers, "
            f"max_suppliers allows {policy.max_suppliers}"
        )
    if least > len(md.offers):
        return f"mineral {m.id}: max_supplier_share needs {least} suppliers, it has {len(md.offers)} usable offers"
    return (
        f"mineral {m.id}: the heuristic found no allocation reaching {what} within its offers' capacities, "
        "minimum orders and lots, the supplier share, country caps and its spend cap"
    )


def start_values(model, compiled, quantities: list[float]) -> np.ndarray | None:
    """The heuristic's quantities as a full column vector of ``compiled`` (a warm start for HiGHS).

    Every column of the model gets its value: each offer's parts (its quantity as a fraction
    of its bound, filled tier by tier, or in the one all-units tier that prices it), its tier
    binaries, its usage binary, its lot count, and each mineral's total, coverage and spend.
    None when the compiled columns' positions in the model are not known.
    """
    if compiled.numbering is not model.columns or compiled.positions is None:
        return None
    instance = model.instance
    request = instance.request
    a = model.arrays
    t = instance.offers.table
    full = np.zeros(model.columns.size)
    total = np.zeros(len(instance.minerals))
    spend = np.zeros(len(instance.minerals))
    bought = np.asarray(quantities, dtype=float)[t.index]
    for p in np.flatnonzero(bought > 0).tolist():
        q = float(bought[p])
        j = int(t.mineral[p])
        offer = request.suppliers[int(t.index[p])]
        total[j] += q
        spend[j] += offer_cost(request, offer, q).spend
        f = q / float(a.bound[p])
        parts = range(int(a.first_part[p]), int(a.first_part[p + 1]))
        if a.shape[p] == CostShape.ALL_UNITS and len(parts) > 1:
            fits = [k for k in parts if a.part_low[k] * (1 - 1e-12) <= f <= a.part_width[k] * (1 + 1e-12)]
            k = min(fits, key=lambda k: a.part_price[k]) if fits else parts[-1]
            full[a.part_position[k]] = f
            if a.part_z[k] >= 0:
                full[a.part_z[k]] = 1.0
        elif len(parts) == 1:
            full[a.part_position[parts[0]]] = f
        else:
            for k in parts:
                seg = min(max(f - a.part_low[k], 0.0), a.part_width[k])
                full[a.part_position[k]] = seg
                if a.part_z[k] >= 0:
                    full[a.part_z[k]] = 1.0 if seg > 0 else 0.0
        if a.y[p] >= 0:
            full[a.y[p]] = 1.0
        if a.n[p] >= 0:
            full[a.n[p]] = round(q / float(t.lot_size[p]))
    unit = np.array([md.unit for md in instance.minerals], dtype=float)
    target = np.array([md.mineral.target for md in instance.minerals], dtype=float)
    full[a.Q] = total / unit
    full[a.cov] = np.minimum(1.0, total / target)
    for j in range(len(instance.minerals)):
        if a.S[j] >= 0:
            full[a.S[j]] = spend[j] / money_scale(instance, j)
    out = np.zeros(len(compiled.positions))
    known = compiled.positions >= 0
    out[known] = full[compiled.positions[known]]
    return out
