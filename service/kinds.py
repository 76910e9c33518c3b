"""What a job can run: a registry of kinds, each an input model, the function that runs it and its result model.

A kind is registered by one call::

    register("frontier", FrontierRequest, run_frontier, FrontierResult)

where ``run_frontier(input: FrontierRequest, ctx: JobContext) -> FrontierResult`` is async,
solves through ``ctx.gateway`` (``await ctx.gateway.solve(request)``: worker processes,
time limits, cancellation) and may report ``ctx.progress(fraction)``. ``POST /v1/jobs``
then accepts ``{"kind": "frontier", "input": ...}``, validating ``input`` with the input model
(422 with paths under ``input``). Optional:

* ``csv(result) -> str`` and ``xlsx(input, result) -> bytes``: ``GET /v1/jobs/{id}/result``
  answers them by ``Accept``;
* ``scenario_input(scenario, body) -> dict``: the input built from a saved scenario (its
  ``request``, ``variants``, ``description``) and the body posted to
  ``POST /v1/scenarios/{name}/{action}``; default: ``{**body, "request": scenario["request"]}``.
  ``SCENARIO_ACTIONS`` maps each action to its kind.

Cancelling a job cancels the task running ``run``; a gateway solve stops its worker then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from models import AllocationRequest, AllocationResult
from service.solving import SolveGateway


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a running job may use: the solve gateway, a way to say how far it got (0..1), and the
    analyses' runner (``service.analyses.AnalysisRunner``: Dask) for the kinds that solve many variants."""

    gateway: SolveGateway
    progress: Callable[[float], None]
    analyses: Any = None


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    input: type[BaseModel]
    run: Callable[[Any, JobContext], Awaitable[BaseModel]]
    result: type[BaseModel]
    csv: Callable[[Any], str] | None = None
    xlsx: Callable[[Any, Any], bytes] | None = None
    scenario_input: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None

    def input_from_scenario(self, scenario: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if self.scenario_input is not None:
            return self.scenario_input(scenario, body)
        return {**body, "request": scenario["request"]}


KINDS: dict[str, Kind] = {}

# POST /v1/scenarios/{name}/{action} -> the kind it runs
SCENARIO_ACTIONS = {
    "solve": "allocation",
    "compare": "comparison",
    "frontier": "frontier",
    "stress-test": "stress_test",
}


def register(
    name: str,
    input: type[BaseModel],
    run: Callable[[Any, JobContext], Awaitable[BaseModel]],
    result: type[BaseModel],
    *,
    csv: Callable[[Any], str] | None = None,
    xlsx: Callable[[Any, Any], bytes] | None = None,
    scenario_input: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
) -> Kind:
    kind = Kind(name, input, run, result, csv, xlsx, scenario_input)
    KINDS[name] = kind
    return kind


async def _allocate(request: AllocationRequest, ctx: JobContext) -> AllocationResult:
    return await ctx.gateway.solve(request)


def _allocation_csv(result: AllocationResult) -> str:
    from service.spreadsheet.csvio import allocation_csv

    return allocation_csv(result)


def _allocation_xlsx(request: AllocationRequest, result: AllocationResult) -> bytes:
    from service.spreadsheet.result import result_bytes

    return result_bytes(request, result)


def _analysis(run: Callable[..., BaseModel]) -> Callable[[Any, JobContext], Awaitable[BaseModel]]:
    """A job of an analysis (``analyses.compare``...) on the app's analysis runner, its progress reported."""

    async def job(body: Any, ctx: JobContext) -> BaseModel:
        return await ctx.analyses.run(run, body, on_progress=lambda done, total: ctx.progress(done / max(total, 1)))

    return job


def _register_analyses() -> None:
    from analyses import compare, frontier, policy_costs
    from models.analyses import (
        ComparisonRequest,
        ComparisonResult,
        FrontierRequest,
        FrontierResult,
        PolicyCostsRequest,
        PolicyCostsResult,
    )
    from service.spreadsheet.comparison import comparison_workbook
    from service.spreadsheet.csvio import comparison_csv, frontier_csv, policy_costs_csv

    register(
        "comparison",
        ComparisonRequest,
        _analysis(compare),
        ComparisonResult,
        csv=comparison_csv,
        xlsx=comparison_workbook,
        scenario_input=lambda scenario, body: {
            "variants": scenario["variants"],
            **body,
            "request": scenario["request"],
        },
    )
    register("frontier", FrontierRequest, _analysis(frontier), FrontierResult, csv=frontier_csv)
    register("policy_costs", PolicyCostsRequest, _analysis(policy_costs), PolicyCostsResult, csv=policy_costs_csv)


register(
    "allocation",
    AllocationRequest,
    _allocate,
    AllocationResult,
    csv=_allocation_csv,
    xlsx=_allocation_xlsx,
    scenario_input=lambda scenario, body: scenario["request"],
)


def _in_thread(work: Callable[[], BaseModel], cancel: Any = None, progress: Callable[[], None] | None = None):
    """``work()`` on a thread; a cancelled job sets ``cancel`` (the analysis stops between draws)."""

    async def run() -> BaseModel:
        future = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            while not future.done():
                await asyncio.wait({future}, timeout=0.5)
                if progress is not None:
                    progress()
            return future.result()
        except asyncio.CancelledError:
            if cancel is not None:
                cancel.set()
            raise

    return run()


def _register_stress() -> None:
    from analyses.stress import Control
    from models.disruptions import RobustAllocationResult, RobustRequest, StressTestRequest, StressTestResult

    async def stress(body: StressTestRequest, ctx: JobContext) -> BaseModel:
        control = Control()
        runner = ctx.analyses
        return await _in_thread(
            lambda: runner.stress_test(body, control),
            control.cancel,
            lambda: ctx.progress(control.done / max(control.total, 1)),
        )

    async def robust(body: RobustRequest, ctx: JobContext) -> BaseModel:
        runner = ctx.analyses
        return await _in_thread(lambda: runner.robust_allocation(body))

    register(
        "stress_test",
        StressTestRequest,
        stress,
        StressTestResult,
        scenario_input=lambda scenario, body: {**body, "request": scenario["request"]},
    )
    register("robust_allocation", RobustRequest, robust, RobustAllocationResult)


_register_analyses()
_register_stress()
