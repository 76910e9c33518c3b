"""The contract as flat arrays, shared by the two baseline contenders.

Independent of ``solvers/``: a planner writing the model by hand would start
from the same request and need the same numbers. Quantities are modelled as
fractions of each offer's bound ``U`` (capacity, cut at the mineral's
max_quantity), money rows are scaled by their own right-hand side and
quantity rows by the mineral's reference quantity (max of target and floor),
so that the baselines meet the same 1e-6-per-row rule as the engine.

Also here: turning a baseline's column values into quantities the request
admits (whole lots, the chosen all-units tier, zero when unused) and checking
them with plain arithmetic (``solvers.result_for`` and
``solvers.check_result``, which look at quantities only, never at a model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from models import AllocationRequest, AllocationResult, Objective, Status

# The engine's own stage-two score row, re-exported so that every contender holds the score alike.
from solvers import SCORE_ROW_SCALE as SCORE_ROW_SCALE  # noqa: PLC0414 - an explicit re-export
from solvers import SCORE_SLACK as SCORE_SLACK  # noqa: PLC0414
from solvers import check_result, result_for


@dataclass(slots=True)
class Offer:
    index: int  # in request.suppliers
    mineral: int
    U: float  # bound on quantity
    factor: float  # 1 + tariff
    lo: list[float]  # tier ranges cut at U
    hi: list[float]
    price: list[float]
    all_units: bool
    convex: bool  # one tier, or incremental with rising prices
    min_order: float
    lot: float | None
    lots: int  # most whole lots
    min_lots: int
    fixed: float
    needs_y: bool = False


@dataclass(slots=True)
class Contract:
    request: AllocationRequest
    offers: list[Offer]
    by_mineral: list[list[int]]  # positions in offers
    reference: np.ndarray  # per mineral
    floor: np.ndarray
    target: np.ndarray
    weight: np.ndarray  # normalised to sum 1
    spend_cap: list[float | None]
    caps: list[tuple[float, int, list[int]]] = field(default_factory=list)  # (share, mineral, offers)

    @property
    def max_coverage(self) -> bool:
        return self.request.objective is Objective.MAX_COVERAGE


def contract(request: AllocationRequest) -> Contract:
    mpos = {m.id: j for j, m in enumerate(request.minerals)}
    excluded = set(request.policy.excluded_countries)
    limit = request.policy.max_suppliers
    minerals = request.minerals
    floor = np.array([m.min_quantity for m in minerals], dtype=float)
    target = np.array([m.target for m in minerals], dtype=float)
    if request.objective is Objective.MIN_COST:
        floor = np.maximum(floor, target)
    reference = np.maximum(target, np.array([m.min_quantity for m in minerals], dtype=float))
    offers: list[Offer] = []
    by_mineral: list[list[int]] = [[] for _ in minerals]
    for i, o in enumerate(request.suppliers):
        if o.country in excluded:
            continue
        j = mpos[o.mineral]
        U = o.capacity if minerals[j].max_quantity is None else min(o.capacity, minerals[j].max_quantity)
        lot, lots, min_lots = o.lot_size, 0, 0
        if lot is not None:
            lots = math.floor(U / lot * (1 + 1e-12))
            min_lots = max(1, math.ceil(o.min_order / lot * (1 - 1e-12)))
            if lots < min_lots:
                continue
            U = lots * lot
        elif o.min_order > U:
            continue
        lo, hi, price = _tiers(o, U)
        all_units = o.discount.value == "all_units" and len(price) > 1
        convex = len(price) == 1 or (not all_units and all(b >= a for a, b in pairwise(price)))
        by_mineral[j].append(len(offers))
        offers.append(
            Offer(
                i,
                j,
                U,
                1.0 + request.policy.tariffs.get(o.country, 0.0),
                lo,
                hi,
                price,
                all_units,
                convex,
                o.min_order,
                lot,
                lots,
                min_lots,
                o.fixed_cost,
            )
        )
    for j, members in enumerate(by_mineral):
        crowded = limit is not None and len(members) > limit
        for p in members:
            od = offers[p]
            od.needs_y = crowded or od.fixed > 0 or od.min_order > 0 or od.lot is not None or not od.convex
    caps = []
    for cap in request.policy.country_caps:
        if cap.max_share >= 1:
            continue
        listed = None if cap.minerals is None else set(cap.minerals)
        for j, m in enumerate(minerals):
            if listed is None or m.id in listed:
                capped = [p for p in by_mineral[j] if request.suppliers[offers[p].index].country in cap.countries]
                if capped:
                    caps.append((cap.max_share, j, capped))
    weight = np.array([m.weight for m in minerals], dtype=float)
    return Contract(
        request,
        offers,
        by_mineral,
        reference,
        floor,
        target,
        weight / weight.sum(),
        [m.max_spend for m in minerals],
        caps,
    )


def _tiers(o, U: float) -> tuple[list[float], list[float], list[float]]:
    """The offer's tiers cut at its bound ``U``: (lo, hi, price) lists.

    A tier starting beyond ``U`` is left out. One starting exactly at ``U`` stays, as
    [U, U], under all-units pricing: a quantity at a breakpoint gets the lower price.
    """
    if o.price_tiers is None:
        return [0.0], [U], [o.unit_price]
    lo, hi, price, start = [], [], [], 0.0
    for t in o.price_tiers:
        if start > U or (start == U and lo):
            if o.discount.value == "all_units" and start == U:  # the breakpoint at U may carry the lower price
                lo.append(U), hi.append(U), price.append(t.unit_price)
            break
        lo.append(start), hi.append(U if t.up_to is None else min(t.up_to, U)), price.append(t.unit_price)
        # Where the next tier starts: this one's own end, not its end cut at U (a tier cut
        # at U is followed by one that starts beyond U, whose lower price U does not reach).
        start = math.inf if t.up_to is None else t.up_to
    if o.discount.value != "all_units":
        keep = [k for k in range(len(lo)) if hi[k] > lo[k]] or [0]
        lo, hi, price = [lo[k] for k in keep], [hi[k] for k in keep], [price[k] for k in keep]
    return lo, hi, price


def snap(
    c: Contract, x: np.ndarray, y: dict[int, float], n: dict[int, float], z: dict[tuple[int, int], float]
) -> list[float]:
    """Quantities per request offer from a baseline's values (x as fractions of U)."""
    out = [0.0] * len(c.request.suppliers)
    for p, od in enumerate(c.offers):
        if p in y and y[p] < 0.5:
            continue
        if od.lot is not None:
            q = round(n[p]) * od.lot
        else:
            q = min(max(float(x[p]), 0.0), 1.0) * od.U
            if p in y and od.min_order > 0:
                q = max(q, od.min_order)
            if od.all_units:
                for k in range(len(od.price)):
                    if z.get((p, k), 0.0) > 0.5:
                        q = min(max(q, od.lo[k]), od.hi[k])
                        break
        out[od.index] = 0.0 if q <= 1e-9 * od.U else float(f"{q:.12g}")
    return out


@dataclass(slots=True)
class Checked:
    status: str  # optimal | feasible | infeasible | no_solution
    score: float | None
    spend: float | None
    violations: list[str]


def checked(c: Contract, status: str, quantities: list[float] | None) -> Checked:
    """Score and spend by plain arithmetic, and every rule the allocation breaks."""
    if quantities is None or status not in ("optimal", "feasible"):
        return Checked(status, None, None, [])
    result: AllocationResult = result_for(c.request, quantities, Status(status))
    return Checked(status, result.coverage_score, result.total_spend, [str(v) for v in check_result(c.request, result)])
