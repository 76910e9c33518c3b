"""Parts of a solve on their own, for benchmarks and analyses that measure or rebuild them.

Each is what ``allocate`` does at one step, given the public types only (requests,
results, ``EngineTuning``, numpy arrays); no Pyomo object leaves, and a HiGHS object
only enters, the caller's own:

* ``result_for``: the result that buying given quantities would be, every figure and
  finding by plain arithmetic (the report step without a solve);
* ``construct_allocation``: the construction heuristic's checked allocation, how long it
  took and what blocked it (``solvers/solve/heuristic.py``); ``heuristic_mip_s``: what a
  solve stopped at its limit gives the heuristic's per-mineral MIPs;
* ``program_of``: the engine's first-stage model of a request as HiGHS is handed it,
  to load into one's own ``highspy.Highs`` (to watch its callbacks, say);
* ``SCORE_ROW_SCALE``, ``SCORE_SLACK``: how ``max_coverage``'s least-spend stage holds
  stage one's score (``docs/formulation.md``), for baselines that model it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models import AllocationRequest, AllocationResult, ModelSize, Status
from solvers.build.program import SCORE_ROW_SCALE, SCORE_SLACK, create_model, release
from solvers.engine import _Seed, heuristic_mip_time, heuristic_reserve
from solvers.prepare.instance import prepare
from solvers.report.result import SolveStats, build_result
from solvers.solve.highs import Compiled, compile_model, load
from solvers.tuning import EngineTuning

__all__ = [
    "SCORE_ROW_SCALE",
    "SCORE_SLACK",
    "Construction",
    "Program",
    "construct_allocation",
    "heuristic_mip_s",
    "program_of",
    "result_for",
]

_NO_MODEL = ModelSize(variables=0, binaries=0, integers=0, constraints=0)


def result_for(
    request: AllocationRequest,
    quantities: Sequence[float],
    status: Status = Status.FEASIBLE,
    size: ModelSize = _NO_MODEL,
) -> AllocationResult:
    """The result buying ``quantities`` (one per offer, in the request's order) would be.

    Figures and findings as ``allocate`` reports them, by plain arithmetic; it is not
    checked (``check_result`` does that) and claims no solve time.
    """
    return build_result(request, list(quantities), SolveStats(status, 0.0, size), [])


@dataclass(frozen=True, slots=True)
class Construction:
    """The construction heuristic's answer: its checked allocation (None: it found none valid),
    the seconds from the call to its allocation, and the rule that kept it from any (or None)."""

    result: AllocationResult | None
    seconds: float
    blocked: str | None


def construct_allocation(
    request: AllocationRequest, tuning: EngineTuning | None = None, mip_s: float | None = None
) -> Construction:
    """The construction heuristic run on ``request`` alone, its allocation checked.

    ``tuning.time_limit_s`` bounds its per-mineral MIPs as in a solve (None: the request's);
    ``mip_s``, when given, is their time instead (``heuristic_mip_s`` gives a solve's).
    """
    began = time.perf_counter()
    seed = _Seed.of(prepare(request), tuning or EngineTuning(), began, mip_s=mip_s)
    if seed is None:  # (the heuristic failed; logged)
        return Construction(None, time.perf_counter() - began, None)
    return Construction(seed.result, seed.seconds, seed.blocked)


def heuristic_mip_s(limit_s: float) -> float:
    """What a solve that HiGHS stopped at its limit ``limit_s`` gives the heuristic's per-mineral
    MIPs: half of the time kept back for the heuristic (``solvers.engine._Fallback``)."""
    return heuristic_mip_time(heuristic_reserve(limit_s))


@dataclass(frozen=True, slots=True)
class Program:
    """The engine's first-stage model of a request as HiGHS is handed it (minimised, column-wise).

    ``columns`` and ``rows`` count them; ``sign``: HiGHS's objective times it is the
    model's (-1 where the model maximises); ``must_buy``: some floor forbids buying
    nothing, so an empty start is no allocation. ``load`` passes it to the caller's HiGHS.
    """

    columns: int
    rows: int
    sign: float
    must_buy: bool
    _compiled: Compiled

    def load(self, highs: Any, options: dict[str, object]) -> None:
        """Set ``options`` (``EngineTuning.highs`` gives the engine's) on ``highs`` and pass it the model."""
        load(highs, self._compiled, options)


def program_of(request: AllocationRequest) -> Program:
    """``request``'s model built and compiled as ``allocate`` does, kept as arrays only."""
    instance = prepare(request)
    model = create_model(instance)
    c = compile_model(model)
    arrays = Compiled(
        range(len(c.columns)),
        c.sign,
        c.offset,
        c.cost,
        c.col_lower,
        c.col_upper,
        c.row_lower,
        c.row_upper,
        c.matrix,
        c.integrality,
        [],
    )
    release(model)
    must_buy = any(md.floor > 0 for md in instance.minerals)
    return Program(len(c.columns), len(c.row_lower), c.sign, must_buy, arrays)
