"""A brute-force reference solver for tiny requests, independent of the engine's model.

Every offer is either unused or used on one linear piece of its cost curve
(one tier's range, or one whole number of lots). Each combination of pieces
leaves a linear program over the quantities, solved with SciPy's ``linprog``.
The best score over all combinations, then the least spend at that score,
is the exact lexicographic optimum of the contract.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from models import AllocationRequest, Discount, Objective
from solvers.prepare.pricing import goods_cost, tariff_rate, tiers


@dataclass(frozen=True)
class Piece:
    """Spend = a + b * q for q in [lo, hi]."""

    lo: float
    hi: float
    a: float
    b: float


@dataclass(frozen=True)
class Optimum:
    score: float | None
    spend: float


def pieces(request: AllocationRequest, offer) -> list[Piece]:
    if offer.country in request.policy.excluded_countries:
        return []
    f = 1 + tariff_rate(request, offer.country)
    fixed = offer.fixed_cost
    if offer.lot_size is not None:
        out = []
        for n in range(1, math.floor(offer.capacity / offer.lot_size + 1e-9) + 1):
            q = n * offer.lot_size
            if q >= offer.min_order - 1e-9:
                out.append(Piece(q, q, fixed + f * goods_cost(offer, q), 0.0))
        return out
    out = []
    for t in tiers(offer):
        lo, hi = max(t.lo, offer.min_order), t.hi
        if lo > hi:
            continue
        if offer.discount is Discount.ALL_UNITS:
            out.append(Piece(lo, hi, fixed, f * t.price))
        else:
            start = goods_cost(offer, t.lo)
            out.append(Piece(lo, hi, fixed + f * (start - t.price * t.lo), f * t.price))
    return out


def solve(request: AllocationRequest) -> Optimum | None:
    """The exact optimum, or None when no allocation meets the hard rules."""
    choices = [[None, *pieces(request, o)] for o in request.suppliers]
    combos = [c for c in itertools.product(*choices) if _count_ok(request, c)]
    if request.objective is Objective.MIN_COST:
        spends = [s for c in combos if (s := _lp(request, c, stage="spend")) is not None]
        return Optimum(None, min(spends)) if spends else None
    scores = [s for c in combos if (s := _lp(request, c, stage="score")) is not None]
    if not scores:
        return None
    best = max(scores)
    spends = [s for c in combos if (s := _lp(request, c, stage="spend", keep=best - 1e-9)) is not None]
    return Optimum(best, min(spends))


def _count_ok(request, combo) -> bool:
    limit = request.policy.max_suppliers
    if limit is None:
        return True
    used: dict[str, int] = {}
    for offer, piece in zip(request.suppliers, combo):
        if piece is not None:
            used[offer.mineral] = used.get(offer.mineral, 0) + 1
    return all(v <= limit for v in used.values())


def _lp(request: AllocationRequest, combo, stage: str, keep: float | None = None) -> float | None:
    """Variables: q per used offer, then cov per mineral. Returns score or spend."""
    used = [(o, p) for o, p in zip(request.suppliers, combo) if p is not None]
    minerals = request.minerals
    nq, nm = len(used), len(minerals)
    n = nq + nm
    rows, rhs = [], []

    def le(coeffs: dict[int, float], bound: float) -> None:
        row = np.zeros(n)
        for k, v in coeffs.items():
            row[k] += v
        rows.append(row)
        rhs.append(bound)

    fixed = sum(p.a for _, p in used)
    le({k: p.b for k, (_, p) in enumerate(used)}, request.budget - fixed)
    by_mineral = {m.id: [k for k, (o, _) in enumerate(used) if o.mineral == m.id] for m in minerals}
    weight = sum(m.weight for m in minerals)
    for j, m in enumerate(minerals):
        ks = by_mineral[m.id]
        floor = max(m.min_quantity, m.target if request.objective is Objective.MIN_COST else 0.0)
        le({k: -1.0 for k in ks}, -floor)
        if m.max_quantity is not None:
            le({k: 1.0 for k in ks}, m.max_quantity)
        if m.max_spend is not None:
            le({k: used[k][1].b for k in ks}, m.max_spend - sum(used[k][1].a for k in ks))
        coverage = {k: -1.0 / m.target for k in ks}
        coverage[nq + j] = 1.0
        le(coverage, 0.0)
        for cap in request.policy.country_caps:
            if cap.minerals is not None and m.id not in cap.minerals:
                continue
            row = {k: -cap.max_share for k in ks}
            for k in ks:
                if used[k][0].country in cap.countries:
                    row[k] += 1.0
            le(row, 0.0)
        share = request.policy.max_supplier_share
        if share < 1:
            for k in ks:
                row = {i: -share for i in ks}
                row[k] += 1.0
                le(row, 0.0)
    score = np.zeros(n)
    for j, m in enumerate(minerals):
        score[nq + j] = m.weight / weight
    if keep is not None:
        le({i: -score[i] for i in range(nq, n)}, -keep)
    spend = np.zeros(n)
    for k, (_, p) in enumerate(used):
        spend[k] = p.b
    bounds = [(p.lo, p.hi) for _, p in used] + [(0.0, 1.0)] * nm
    objective = -score if stage == "score" else spend
    res = linprog(objective, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    if res.status != 0:
        return None
    return float(score @ res.x) if stage == "score" else float(spend @ res.x + fixed)
