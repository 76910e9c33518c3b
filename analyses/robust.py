"""The robust allocation: the plan that holds up best over sampled disruptions, and how it compares.

``robust_allocation`` samples the request's disruption draws (``analyses.stress``), solves
the sample-average model (``solvers.robust_allocate``) and the ordinary optimal allocation,
and scores both plans in hold mode on the sampled draws (in sample) and on as many fresh
draws from the next seed (out of sample, at least ``OUT_OF_SAMPLE_DRAWS``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.execution import DaskExecutor
from analyses.stress import DrawSpace, dist, hold_scores, measure_value, plan_quantities
from models import AllocationResult
from models.disruptions import InSample, OutOfSample, Risk, RobustAllocationResult, RobustRequest
from solvers import EngineTuning, allocate, robust_allocate

OUT_OF_SAMPLE_DRAWS = 10_000


def sampled_delivery(robust: RobustRequest) -> np.ndarray:
    """Whether each offer delivers in each of the request's sampled draws (draws x offers)."""
    space = DrawSpace.of(robust.request, robust.disruptions)
    return np.concatenate([space.alive(cut, failed) for _, cut, failed, _ in space.draws(robust.seed, 0, robust.draws)])


def robust_allocation(
    robust: RobustRequest, options: EngineTuning | None = None, optimal: AllocationResult | None = None
) -> RobustAllocationResult:
    """The robust plan of ``robust`` with its ``risk`` beside the ordinary optimal plan's."""
    request = robust.request
    solution = robust_allocate(request, sampled_delivery(robust), robust.measure, robust.alpha, options)
    optimal = optimal or allocate(request, options)
    plans = {"robust": plan_quantities(request, solution.result), "optimal": plan_quantities(request, optimal)}
    inside = {k: hold_scores(request, robust.disruptions, q, robust.seed, robust.draws) for k, q in plans.items()}
    fresh_seed = (robust.seed + 1) % 2**53
    fresh_draws = max(OUT_OF_SAMPLE_DRAWS, robust.draws)
    outside = {k: hold_scores(request, robust.disruptions, q, fresh_seed, fresh_draws) for k, q in plans.items()}
    risk = Risk(
        measure=robust.measure,
        alpha=robust.alpha,
        draws=robust.draws,
        objective={k: measure_value(v, robust.measure, robust.alpha) for k, v in inside.items()},
        in_sample=InSample(robust=dist(inside["robust"]), optimal=dist(inside["optimal"])),
        out_of_sample=OutOfSample(
            seed=fresh_seed, draws=fresh_draws, robust=dist(outside["robust"]), optimal=dist(outside["optimal"])
        ),
    )
    return RobustAllocationResult(**dict(solution.result), risk=risk)


def robust_on(executor: Any, robust: RobustRequest, options: EngineTuning | None = None) -> RobustAllocationResult:
    """``robust_allocation`` on ``executor``'s cluster (one task: one MIP), or here for an in-process one."""
    if not isinstance(executor, DaskExecutor):
        return robust_allocation(robust, options)
    future = executor.client().submit(robust_allocation, robust, options, pure=False)
    try:
        return future.result()
    finally:
        future.cancel()
