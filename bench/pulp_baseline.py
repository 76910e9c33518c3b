"""Contender 3: the same model in PuLP, solved by its bundled CBC.

Written the way a planner would write it (dictionaries of ``LpVariable``,
``lpSum`` rows), with the same scaling as the other two contenders and the
same two stages for ``max_coverage`` (the second warm-started). CBC gets
threads=1, the request's gap and time limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pulp

from bench.contract import SCORE_ROW_SCALE, SCORE_SLACK, Checked, checked, contract, snap
from models import AllocationRequest


@dataclass(slots=True)
class Outcome:
    checked: Checked
    seconds: float
    run_seconds: float  # inside CBC (PuLP's solve call: writing the MPS file, CBC, reading back)
    model: dict


def solve(request: AllocationRequest, solver: str = "cbc") -> Outcome:
    """Solved by CBC, or (``solver="scip"``, for best-known values only) by SCIP through PySCIPOpt."""
    began = time.perf_counter()
    c = contract(request)
    offers, budget = c.offers, request.budget
    prob = pulp.LpProblem("stockpile", pulp.LpMaximize if c.max_coverage else pulp.LpMinimize)
    x = {p: pulp.LpVariable(f"x{p}", 0, 1) for p in range(len(offers))}
    seg, z, y, n = {}, {}, {}, {}
    for p, od in enumerate(offers):
        multi = len(od.price) > 1
        for k in range(len(od.price) if multi else 0):
            width = (od.hi[k] if od.all_units else od.hi[k] - od.lo[k]) / od.U
            seg[p, k] = pulp.LpVariable(f"s{p}_{k}", 0, width)
            if od.all_units or (not od.convex and k > 0):
                z[p, k] = pulp.LpVariable(f"z{p}_{k}", cat="Binary")
        if od.needs_y:
            y[p] = pulp.LpVariable(f"y{p}", cat="Binary")
        if od.lot is not None:
            n[p] = pulp.LpVariable(f"n{p}", 0, od.lots, cat="Integer")
    J = len(c.reference)
    Q = {}
    for j, m in enumerate(request.minerals):
        supply = sum(offers[p].U for p in c.by_mineral[j])
        cap = supply if m.max_quantity is None else min(supply, m.max_quantity)
        lo = c.floor[j] / c.reference[j]
        Q[j] = pulp.LpVariable(f"Q{j}", lo, max(lo, cap / c.reference[j]))
    cov = {j: pulp.LpVariable(f"cov{j}", 0, 1) for j in range(J)}

    def spend(p):
        od = offers[p]
        if len(od.price) > 1:
            terms = [(seg[p, k], od.factor * od.price[k] * od.U) for k in range(len(od.price))]
        else:
            terms = [(x[p], od.factor * od.price[0] * od.U)]
        if od.fixed > 0:
            terms.append((y[p], od.fixed))
        return terms

    for p, od in enumerate(offers):
        K = len(od.price)
        if K > 1:
            prob += x[p] == pulp.lpSum(seg[p, k] for k in range(K))
        if K > 1 and not od.all_units and not od.convex:
            for k in range(1, K):
                prob += seg[p, k] <= (od.hi[k] - od.lo[k]) / od.U * z[p, k]
                prob += seg[p, k - 1] >= (od.hi[k - 1] - od.lo[k - 1]) / od.U * z[p, k]
                if k > 1:
                    prob += z[p, k] <= z[p, k - 1]
        if od.all_units:
            prob += pulp.lpSum(z[p, k] for k in range(K)) == y[p]
            for k in range(K):
                prob += seg[p, k] >= od.lo[k] / od.U * z[p, k]
                prob += seg[p, k] <= od.hi[k] / od.U * z[p, k]
        if p in y:
            prob += x[p] <= y[p]
        if od.min_order > 0 and od.lot is None:
            prob += x[p] >= od.min_order / od.U * y[p]
        if od.lot is not None:
            prob += x[p] == od.lot / od.U * n[p]
            prob += n[p] >= od.min_lots * y[p]
    share = request.policy.max_supplier_share
    for j in range(J):
        R = c.reference[j]
        prob += pulp.lpSum(offers[p].U / R * x[p] for p in c.by_mineral[j]) == Q[j]
        prob += cov[j] <= R / c.target[j] * Q[j]
        if c.spend_cap[j] is not None and c.by_mineral[j]:
            prob += pulp.lpSum(v / c.spend_cap[j] * var for p in c.by_mineral[j] for var, v in spend(p)) <= 1
        if share < 1:
            for p in c.by_mineral[j]:
                prob += offers[p].U / R * x[p] <= share * Q[j]
        limit = request.policy.max_suppliers
        if limit is not None and len(c.by_mineral[j]) > limit:
            prob += pulp.lpSum(y[p] for p in c.by_mineral[j]) <= limit
    for s, j, members in c.caps:
        prob += pulp.lpSum(offers[p].U / c.reference[j] * x[p] for p in members) <= s * Q[j]
    spend_expr = pulp.lpSum(v / budget * var for p in range(len(offers)) for var, v in spend(p))
    prob += spend_expr <= 1
    score_expr = pulp.lpSum(float(c.weight[j]) * cov[j] for j in range(J))
    prob.setObjective(score_expr if c.max_coverage else spend_expr)

    run_seconds = 0.0
    limit_s = request.options.time_limit_s

    def cbc(warm: bool) -> str:
        nonlocal run_seconds
        left = max(1.0, limit_s - (time.perf_counter() - began))
        kind = pulp.SCIP_PY if solver == "scip" else pulp.PULP_CBC_CMD
        backend = kind(msg=False, timeLimit=left, gapRel=request.options.mip_gap, threads=1, warmStart=warm)
        t = time.perf_counter()
        try:
            prob.solve(backend)
        except pulp.PulpSolverError:  # CBC crashed or was stopped outside its own limit
            return "no_solution"
        finally:
            run_seconds += time.perf_counter() - t
        return _status(prob)

    status = cbc(False)
    val = lambda v: v.varValue or 0.0
    first = {v.name: val(v) for v in prob.variables()}
    if c.max_coverage and status in ("optimal", "feasible") and limit_s - (time.perf_counter() - began) < 1.0:
        status = "feasible"  # no time left for the least-spend stage
    elif c.max_coverage and status in ("optimal", "feasible"):
        score = pulp.value(score_expr)
        prob += SCORE_ROW_SCALE * score_expr >= SCORE_ROW_SCALE * (score - SCORE_SLACK), "keep_score"
        prob.sense = pulp.LpMinimize
        prob.setObjective(spend_expr)
        second = cbc(True)
        if second not in ("optimal", "feasible"):  # keep stage one's allocation
            status = "feasible"
            for v in prob.variables():
                v.varValue = first.get(v.name, 0.0)
        elif second == "feasible":
            status = "feasible"
    q = None
    if status in ("optimal", "feasible"):
        q = snap(
            c,
            [val(x[p]) for p in range(len(offers))],
            {p: val(v) for p, v in y.items()},
            {p: val(v) for p, v in n.items()},
            {pk: val(v) for pk, v in z.items()},
        )
    seconds = time.perf_counter() - began
    model = {"variables": len(prob.variables()), "constraints": len(prob.constraints)}
    return Outcome(checked(c, status, q), seconds, run_seconds, model)


def _status(prob: pulp.LpProblem) -> str:
    st, sol = prob.status, prob.sol_status
    if st == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
        return "optimal"
    if sol in (pulp.LpSolutionIntegerFeasible,) or (st == pulp.LpStatusOptimal and sol != pulp.LpSolutionOptimal):
        return "feasible"
    if st == pulp.LpStatusInfeasible:
        return "infeasible"
    return "no_solution"
