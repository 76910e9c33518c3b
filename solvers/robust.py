"""The robust allocation: purchases that hold up best over sampled disruptions (docs/formulation.md).

Sample-average approximation. The model is the request's own (``create_model``: every
price, tier, lot, minimum order, budget and policy rule) plus, for each sampled
disruption, one coverage variable per mineral bounded by what the offers that still
deliver in that disruption were bought for. Its objective is the mean coverage score
over the samples (``expected``) or the mean of the worst ``alpha`` share of them
(``cvar``, Rockafellar and Uryasev's form); then, as for every max_coverage solve, the
least spend that keeps it. Samples that leave the same offers delivering are one
scenario with their count as weight (under ``expected``, per mineral), which keeps the
model small: a disruption model of a few countries has few distinct scenarios.

Input and output are plain data: the request, which offers deliver in each sample, and
back an ``AllocationResult`` of the base request, checked by ``check_result``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from models import AllocationRequest, AllocationResult, ModelSize, Status
from solvers.answer.extract import quantities, solution
from solvers.budget import TimeBudget
from solvers.build.program import SCORE_ROW_SCALE, create_model, release
from solvers.errors import SolutionRejected, SolverFailed
from solvers.prepare.instance import prepare
from solvers.report.check import check_result
from solvers.report.result import SolveStats, build_result, empty_result
from solvers.solve.highs import SolveState, compile_model, next_stage, solve
from solvers.tuning import EngineTuning

# Stage two (least spend) may give back this much of the robust objective (absolute; scores are in [0, 1]).
ROBUST_SLACK = 1e-9


@dataclass(frozen=True)
class RobustSolution:
    result: AllocationResult  # of the base request, checked
    objective: float | None  # the measure over the samples, as the solver found it
    scenarios: int  # distinct scenarios in the model


def robust_allocate(
    request: AllocationRequest,
    delivers: Sequence[Sequence[bool]] | np.ndarray,
    measure: str = "expected",
    alpha: float = 0.1,
    options: EngineTuning | None = None,
) -> RobustSolution:
    """The allocation of ``request`` that maximises ``measure`` of the coverage score over the samples.

    ``delivers[k][i]`` says whether offer i of ``request.suppliers`` delivers in sample k
    (the plan is bought before the disruption: an offer that fails delivers nothing).
    """
    if measure not in ("expected", "cvar"):
        raise ValueError(f"unknown measure {measure!r}")
    began = time.perf_counter()
    opts = (options or EngineTuning()).for_request(request)
    budget = TimeBudget.start(opts.time_limit_s)
    delivers = np.asarray(delivers, dtype=bool)
    instance = prepare(request)
    model = create_model(instance)
    try:
        scenarios = _add_saa(model, instance, delivers, measure, alpha)
        compiled = compile_model(model)
        size = ModelSize(**compiled.size)
        # As ``allocate``: an answer the check fails is solved again with tighter tolerances
        # (a mineral whose quantities are tiny beside its target can lean on them), once.
        for last_try, tuning in ((False, opts), (True, opts.tighter())):
            first = solve(compiled, tuning, budget.remaining(), np.zeros(len(compiled.columns)))
            if first.state is SolveState.ERROR:
                raise SolverFailed(f"HiGHS failed: {first.message}")
            if first.values is None:
                status = Status.INFEASIBLE if first.state is SolveState.INFEASIBLE else Status.NO_SOLUTION
                result = empty_result(request, status, time.perf_counter() - began, [], size)
                return RobustSolution(result, None, scenarios)
            values = first.values
            proven = first.state is SolveState.OPTIMAL
            left = budget.remaining()
            if left > 0:
                stage = next_stage(compiled, first.objective - ROBUST_SLACK, SCORE_ROW_SCALE)
                second = solve(stage, tuning, left, values)
                if second.values is not None:
                    values = second.values
                proven = proven and second.state is SolveState.OPTIMAL
            bought = quantities(model, instance, solution(model, compiled, values))
            stats = SolveStats(Status.OPTIMAL if proven else Status.FEASIBLE, time.perf_counter() - began, size)
            result = build_result(request, bought, stats, [])
            violations = check_result(request, result)
            if not violations:
                break
            if last_try or budget.remaining() <= 0:
                raise SolutionRejected(violations)
    finally:
        release(model)
    return RobustSolution(result, first.objective, scenarios)


def _add_saa(model: pyo.ConcreteModel, instance, delivers: np.ndarray, measure: str, alpha: float) -> int:
    """Scenario coverage variables, their rows and the robust objective; the number of scenarios."""
    a = model.arrays
    columns = model.columns
    offer_index = np.array([od.index for od in instance.offers], dtype=np.int64)  # model offer -> request offer
    weights = np.array([md.mineral.weight for md in instance.minerals], dtype=float) / instance.total_weight
    per_unit = np.array([md.unit / md.mineral.target for md in instance.minerals], dtype=float)
    samples = len(delivers)

    def quantity(offers: list[int]):
        """Sum of the offers' quantities, each in its mineral's measuring unit, as (positions, coefficients)."""
        positions, coefs = [], []
        for i in offers:
            parts = a.part_position[a.first_part[i] : a.first_part[i + 1]]
            positions.append(parts)
            coefs.append(np.full(len(parts), a.quantity[i]))
        if not positions:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(positions), np.concatenate(coefs)

    model.max_score.deactivate()
    model.del_component(model.min_spend)
    rows: list[tuple[int, int, list[int]]] = []  # (scenario, mineral, offers delivering)
    if measure == "expected":
        # per mineral, the distinct sets of its offers that deliver, each weighted by its share of samples
        prob: list[float] = []
        owner: list[int] = []
        for j, md in enumerate(instance.minerals):
            own = np.array(md.offers, dtype=np.int64)
            patterns, counts = np.unique(delivers[:, offer_index[own]], axis=0, return_counts=True)
            for pattern, count in zip(patterns, counts.tolist(), strict=True):
                rows.append((len(prob), j, own[pattern].tolist()))
                prob.append(count / samples)
                owner.append(j)
        scenarios = len(prob)
        model.saa_cov = pyo.Var(range(scenarios), bounds=(0, 1))
        cov = columns.add(model.saa_cov) + np.arange(scenarios)
        coef = np.array(prob) * weights[np.array(owner, dtype=np.int64)]
        objective = columns.linear(cov, coef)
    else:
        patterns, counts = np.unique(delivers[:, offer_index], axis=0, return_counts=True)
        scenarios = len(patterns)
        cells = [(s, j) for s in range(scenarios) for j in range(len(instance.minerals))]
        model.saa_cov = pyo.Var(range(len(cells)), bounds=(0, 1))
        cov = columns.add(model.saa_cov) + np.arange(len(cells))
        for c, (s, j) in enumerate(cells):
            own = np.array(instance.minerals[j].offers, dtype=np.int64)
            rows.append((c, j, own[patterns[s][own]].tolist()))
        # eta - 1/alpha E[(eta - score)^+]: shortfall[s] >= eta - score[s], shortfall >= 0
        model.saa_eta = pyo.Var(bounds=(0, 1))
        model.saa_short = pyo.Var(range(scenarios), bounds=(0, 1))
        eta = columns.add(model.saa_eta)
        short = columns.add(model.saa_short) + np.arange(scenarios)
        model.saa_tail = pyo.ConstraintList()
        for s in range(scenarios):
            cells_of = cov[s * len(instance.minerals) : (s + 1) * len(instance.minerals)]
            score = columns.linear(np.concatenate([[short[s], eta], cells_of]), np.concatenate([[1.0, -1.0], weights]))
            model.saa_tail.add(score >= 0)
        prob = counts / samples
        # An alpha under the least likely scenario's probability is the worst scenario's score,
        # as it is at that probability, for every plan: 1/alpha is then at most the samples,
        # not a coefficient HiGHS cannot take (alpha may be 5e-324).
        alpha = max(alpha, float(prob.min()))
        objective = columns.linear(np.concatenate([[eta], short]), np.concatenate([[1.0], -prob / alpha]))
    # coverage of a mineral in a scenario is at most what its delivering offers were bought for
    model.saa_coverage = pyo.ConstraintList()
    for c, j, offers in rows:
        positions, coefs = quantity(offers)
        row = columns.linear(np.concatenate([[cov[c]], positions]), np.concatenate([[1.0], -per_unit[j] * coefs]))
        model.saa_coverage.add(row <= 0)
    model.robust = pyo.Objective(expr=objective, sense=pyo.maximize)
    model.min_spend = pyo.Objective(expr=model.spend, sense=pyo.minimize)
    return scenarios
