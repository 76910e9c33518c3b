"""Contender 2: the same contract written straight on ``highspy``, no Pyomo.

Matrices are built with numpy (coordinate triplets per constraint family,
merged into one CSC matrix with duplicates summed: highspy given duplicate
entries can hang or corrupt memory). One ``Highs`` object per request; for
``max_coverage`` the second (least-spend) stage adds the score row to the same
object, swaps the costs and warm-starts from the first stage's columns.
Options match the engine's: threads=1, the request's gap and time limit,
feasibility tolerances 1e-7.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from bench.contract import SCORE_ROW_SCALE, SCORE_SLACK, Checked, Contract, checked, contract, snap
from models import AllocationRequest

INF = highspy.kHighsInf


@dataclass(slots=True)
class Outcome:
    checked: Checked
    seconds: float  # request in, quantities out (excludes the plain-arithmetic check)
    run_seconds: float  # inside Highs.run
    model: dict


class _Rows:
    """Constraint rows as coordinate triplets, one family at a time."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.up: list[np.ndarray] = []
        self.count = 0

    def family(self, n: int, lo: float, up: float) -> np.ndarray:
        """Reserve n rows with the same bounds; returns their indices."""
        idx = np.arange(self.count, self.count + n)
        self.count += n
        self.lo.append(np.full(n, lo))
        self.up.append(np.full(n, up))
        return idx

    def terms(self, rows, cols, vals) -> None:
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        self.r.append(rows)
        self.c.append(cols)
        self.v.append(np.broadcast_to(np.asarray(vals, dtype=float), rows.shape))


def solve(request: AllocationRequest) -> Outcome:
    began = time.perf_counter()
    c = contract(request)
    b = _build(c)
    h = highspy.Highs()
    for k, v in _options(request, began).items():
        h.setOptionValue(k, v)
    A = b["A"]
    h.passModel(
        b["ncol"],
        A.shape[0],
        A.nnz,
        1,
        1,
        0.0,
        b["cost"],
        b["col_lo"],
        b["col_up"],
        b["row_lo"],
        b["row_up"],
        A.indptr.astype(np.int32),
        A.indices.astype(np.int32),
        A.data,
        b["integrality"],
    )
    run = time.perf_counter()
    h.run()
    run_seconds = time.perf_counter() - run
    status, values = _read(h)
    if c.max_coverage and values is not None:
        score = -h.getInfo().objective_function_value
        cov = b["cov"]
        h.addRow(
            SCORE_ROW_SCALE * (score - SCORE_SLACK), INF, len(cov), cov.astype(np.int32), SCORE_ROW_SCALE * c.weight
        )
        h.changeColsCost(b["ncol"], np.arange(b["ncol"], dtype=np.int32), b["spend"])
        h.setOptionValue("time_limit", max(0.01, request.options.time_limit_s - (time.perf_counter() - began)))
        h.setSolution(b["ncol"], np.arange(b["ncol"], dtype=np.int32), values)
        run = time.perf_counter()
        h.run()
        run_seconds += time.perf_counter() - run
        second, v2 = _read(h)
        if v2 is not None and abs(b["spend"] @ v2 - h.getInfo().objective_function_value) > 1e-6:
            # HiGHS 1.16 can report an improved objective with the start's values: solve again, cold
            h.clearSolver()
            run = time.perf_counter()
            h.run()
            run_seconds += time.perf_counter() - run
            second, v2 = _read(h)
        if v2 is not None:
            values = v2
            status = "optimal" if status == "optimal" and second == "optimal" else "feasible"
        else:
            status = "feasible"
    q = None
    if values is not None:
        q = snap(
            c,
            values[: len(c.offers)],
            {p: values[col] for p, col in b["y"].items()},
            {p: values[col] for p, col in b["n"].items()},
            {pk: values[col] for pk, col in b["z"].items()},
        )
    seconds = time.perf_counter() - began
    model = {"variables": b["ncol"], "integers": int(b["integrality"].sum()), "constraints": int(A.shape[0])}
    return Outcome(checked(c, status, q), seconds, run_seconds, model)


def _options(request: AllocationRequest, began: float) -> dict:
    return {
        "output_flag": False,
        "threads": 1,
        "time_limit": max(0.01, request.options.time_limit_s - (time.perf_counter() - began)),
        "mip_rel_gap": request.options.mip_gap,
        "mip_abs_gap": 1e-12,
        "primal_feasibility_tolerance": 1e-7,
        "mip_feasibility_tolerance": 1e-7,
        "random_seed": 0,
    }


def _read(h: highspy.Highs) -> tuple[str, np.ndarray | None]:
    ms = h.getModelStatus()
    has = h.getInfo().primal_solution_status == 2
    values = np.array(h.getSolution().col_value, dtype=float) if has else None
    if ms == highspy.HighsModelStatus.kOptimal and has:
        return "optimal", values
    if ms == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None
    return ("feasible" if has else "no_solution"), values


def _build(c: Contract) -> dict:
    """Columns and rows of the model, as numpy arrays."""
    offers, J, P = c.offers, len(c.reference), len(c.offers)
    mineral = np.array([od.mineral for od in offers], dtype=np.int64)
    U = np.array([od.U for od in offers], dtype=float)
    R = c.reference[mineral] if P else np.zeros(0)
    # --- columns: x (one per offer), seg, z, y, n, Q, cov --------------------------
    lo_b: list[np.ndarray] = [np.zeros(P)]
    up_b: list[np.ndarray] = [np.ones(P)]
    ints: list[np.ndarray] = [np.zeros(P, dtype=np.int32)]
    ncol = P

    def add_cols(lo, up, integer):
        nonlocal ncol
        lo, up = np.asarray(lo, dtype=float), np.asarray(up, dtype=float)
        idx = np.arange(ncol, ncol + len(lo))
        ncol += len(lo)
        lo_b.append(lo), up_b.append(up), ints.append(np.full(len(lo), 1 if integer else 0, dtype=np.int32))
        return idx

    # flattened tiers of multi-tier offers
    tp, tk, tlo, thi, tpr = [], [], [], [], []
    for p, od in enumerate(offers):
        if len(od.price) > 1:
            for k in range(len(od.price)):
                tp.append(p), tk.append(k), tlo.append(od.lo[k]), thi.append(od.hi[k]), tpr.append(od.price[k])
    tp, tk = np.array(tp, dtype=np.int64), np.array(tk, dtype=np.int64)
    tlo, thi, tpr = np.array(tlo, dtype=float), np.array(thi, dtype=float), np.array(tpr, dtype=float)
    all_units = np.array([od.all_units for od in offers], dtype=bool)
    convex = np.array([od.convex for od in offers], dtype=bool)
    tau = all_units[tp] if len(tp) else np.zeros(0, dtype=bool)
    width = np.where(tau, thi, thi - tlo) / U[tp] if len(tp) else np.zeros(0)
    seg = add_cols(np.zeros(len(tp)), width, False)
    zmask = tau | (~convex[tp] & (tk > 0)) if len(tp) else np.zeros(0, dtype=bool)
    zcol = np.full(len(tp), -1, dtype=np.int64)
    zcol[zmask] = add_cols(np.zeros(zmask.sum()), np.ones(zmask.sum()), True)
    ypos = np.array([p for p, od in enumerate(offers) if od.needs_y], dtype=np.int64)
    ycol = np.full(P, -1, dtype=np.int64)
    ycol[ypos] = add_cols(np.zeros(len(ypos)), np.ones(len(ypos)), True)
    npos = np.array([p for p, od in enumerate(offers) if od.lot is not None], dtype=np.int64)
    ncol_of = np.full(P, -1, dtype=np.int64)
    ncol_of[npos] = add_cols(np.zeros(len(npos)), np.array([offers[p].lots for p in npos], dtype=float), True)
    supply = np.bincount(mineral, weights=U, minlength=J) / c.reference
    qcap = np.array(
        [
            supply[j] if m.max_quantity is None else min(supply[j], m.max_quantity / c.reference[j])
            for j, m in enumerate(c.request.minerals)
        ]
    )
    Q = add_cols(c.floor / c.reference, np.maximum(qcap, c.floor / c.reference), False)
    cov = add_cols(np.zeros(J), np.ones(J), False)

    rows = _Rows()
    # An offer's quantity is the sum of its tier segments.
    multi = np.unique(tp)
    r = rows.family(len(multi), 0.0, 0.0)
    rmap = np.full(P, -1, dtype=np.int64)
    rmap[multi] = r
    rows.terms(r, multi, 1.0)
    rows.terms(rmap[tp], seg, -1.0)
    # Incremental volume discounts: tier k open only once tier k-1 is full.
    inc = (~tau) & (zcol >= 0)
    if inc.any():
        k_idx = np.nonzero(inc)[0]
        r = rows.family(len(k_idx), -INF, 0.0)
        rows.terms(r, seg[k_idx], 1.0), rows.terms(r, zcol[k_idx], -width[k_idx])
        r = rows.family(len(k_idx), 0.0, INF)
        rows.terms(r, seg[k_idx - 1], 1.0), rows.terms(r, zcol[k_idx], -width[k_idx - 1])
        chain = k_idx[tk[k_idx] > 1]
        r = rows.family(len(chain), -INF, 0.0)
        rows.terms(r, zcol[chain], 1.0), rows.terms(r, zcol[chain - 1], -1.0)
    # All-units: one tier chosen when used, the quantity inside it.
    if tau.any():
        k_idx = np.nonzero(tau)[0]
        au = np.unique(tp[k_idx])
        r = rows.family(len(au), 0.0, 0.0)
        amap = np.full(P, -1, dtype=np.int64)
        amap[au] = r
        rows.terms(amap[tp[k_idx]], zcol[k_idx], 1.0), rows.terms(r, ycol[au], -1.0)
        r = rows.family(len(k_idx), 0.0, INF)
        rows.terms(r, seg[k_idx], 1.0), rows.terms(r, zcol[k_idx], -tlo[k_idx] / U[tp[k_idx]])
        r = rows.family(len(k_idx), -INF, 0.0)
        rows.terms(r, seg[k_idx], 1.0), rows.terms(r, zcol[k_idx], -thi[k_idx] / U[tp[k_idx]])
    # Nothing bought unless the offer is marked used.
    r = rows.family(len(ypos), -INF, 0.0)
    rows.terms(r, ypos, 1.0), rows.terms(r, ycol[ypos], -1.0)
    # Minimum orders (offers without lots).
    mo = np.array([p for p in ypos if offers[p].min_order > 0 and offers[p].lot is None], dtype=np.int64)
    r = rows.family(len(mo), 0.0, INF)
    rows.terms(r, mo, 1.0), rows.terms(r, ycol[mo], -np.array([offers[p].min_order for p in mo]) / U[mo])
    # Whole lots, and at least the minimum number of lots when used.
    r = rows.family(len(npos), 0.0, 0.0)
    rows.terms(r, npos, 1.0), rows.terms(r, ncol_of[npos], -np.array([offers[p].lot for p in npos]) / U[npos])
    r = rows.family(len(npos), 0.0, INF)
    rows.terms(r, ncol_of[npos], 1.0), rows.terms(r, ycol[npos], -np.array([offers[p].min_lots for p in npos]))
    # Mineral totals, in reference units.
    r = rows.family(J, 0.0, 0.0)
    rows.terms(r[mineral], np.arange(P), U / R), rows.terms(r, Q, -1.0)
    # Coverage <= quantity / target.
    r = rows.family(J, -INF, 0.0)
    rows.terms(r, cov, 1.0), rows.terms(r, Q, -c.reference / c.target)
    # Spend, as (column, money) pairs.
    factor = np.array([od.factor for od in offers], dtype=float)
    single = np.array([len(od.price) == 1 for od in offers], dtype=bool)
    sp_cols = [np.nonzero(single)[0], seg, ycol[ypos]]
    sp_vals = [
        factor[single] * U[single] * np.array([od.price[0] for od in offers])[single] if P else np.zeros(0),
        factor[tp] * tpr * U[tp] if len(tp) else np.zeros(0),
        np.array([offers[p].fixed for p in ypos], dtype=float),
    ]
    sp_owner = [np.nonzero(single)[0], tp, ypos]
    s_cols = np.concatenate(sp_cols).astype(np.int64)
    s_vals = np.concatenate(sp_vals)
    s_min = mineral[np.concatenate(sp_owner).astype(np.int64)] if P else np.zeros(0, dtype=np.int64)
    keep = s_vals != 0
    s_cols, s_vals, s_min = s_cols[keep], s_vals[keep], s_min[keep]
    budget = c.request.budget
    # Budget, scaled by the budget.
    r = rows.family(1, -INF, 1.0)
    rows.terms(np.full(len(s_cols), r[0]), s_cols, s_vals / budget)
    # Spend caps per mineral, each scaled by its own cap.
    capped = [j for j, cap in enumerate(c.spend_cap) if cap is not None and c.by_mineral[j]]
    r = rows.family(len(capped), -INF, 1.0)
    cmap = np.full(J, -1, dtype=np.int64)
    cmap[capped] = r
    sel = cmap[s_min] >= 0
    capv = np.array([c.spend_cap[j] or 1.0 for j in range(J)])
    rows.terms(cmap[s_min[sel]], s_cols[sel], s_vals[sel] / capv[s_min[sel]])
    # Country caps: quantity from the capped countries <= share x total.
    r = rows.family(len(c.caps), -INF, 0.0)
    for row, (share, j, members) in zip(r, c.caps):
        m = np.array(members, dtype=np.int64)
        rows.terms(np.full(len(m), row), m, U[m] / R[m])
        rows.terms([row], [Q[j]], -share)
    # Supplier share: no offer above max_supplier_share of its mineral.
    share = c.request.policy.max_supplier_share
    if share < 1:
        r = rows.family(P, -INF, 0.0)
        rows.terms(r, np.arange(P), U / R), rows.terms(r, Q[mineral], -share)
    # Supplier count per mineral.
    limit = c.request.policy.max_suppliers
    crowded = [j for j in range(J) if limit is not None and len(c.by_mineral[j]) > limit]
    r = rows.family(len(crowded), -INF, float(limit or 0))
    for row, j in zip(r, crowded):
        m = np.array(c.by_mineral[j], dtype=np.int64)
        rows.terms(np.full(len(m), row), ycol[m], 1.0)

    A = sp.csc_array(
        (np.concatenate(rows.v), (np.concatenate(rows.r), np.concatenate(rows.c))), shape=(rows.count, ncol)
    )
    A.sum_duplicates()
    spend = np.zeros(ncol)
    np.add.at(spend, s_cols, s_vals / budget)
    cost = np.zeros(ncol)
    if c.max_coverage:
        cost[cov] = -c.weight
    else:
        cost = spend.copy()
    return {
        "A": A,
        "ncol": ncol,
        "cost": cost,
        "spend": spend,
        "col_lo": np.concatenate(lo_b),
        "col_up": np.concatenate(up_b),
        "integrality": np.concatenate(ints),
        "row_lo": np.concatenate(rows.lo),
        "row_up": np.concatenate(rows.up),
        "cov": cov,
        "y": {int(p): int(ycol[p]) for p in ypos},
        "n": {int(p): int(ncol_of[p]) for p in npos},
        "z": {(int(tp[t]), int(tk[t])): int(zcol[t]) for t in np.nonzero(zcol >= 0)[0]},
    }
