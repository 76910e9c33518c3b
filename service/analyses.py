"""Where analyses run, seen from the web layer: ``await runner.run(analysis, body)``.

An analysis (``analyses.compare``, ``frontier``, ``policy_costs``...) solves many variants
of one request on Dask (``analyses.DaskExecutor``: a local cluster of single-threaded
worker processes started at first use, or the cluster at ``STOCKPILE_DASK_SCHEDULER``),
never in the web process; the Dask client is driven from a thread, so the event loop is
never blocked.

* each solve gets the request's own time limit, clamped as a single solve's is
  (``STOCKPILE_MAX_TIME_LIMIT_S``);
* solves not started ``STOCKPILE_MAX_ANALYSIS_TIME_S`` after the request arrived are
  not started: they answer ``no_solution`` with a ``deadline_exceeded`` finding, and the
  analysis answers with what was done;
* at most ``STOCKPILE_MAX_ANALYSES`` analyses run or wait at once; more get 503;
* limits that are settings (the number of variants) are checked here, as 422s with paths.

Stress tests and robust allocations (``stress_test``, ``robust_allocation``), for the routes
and the job kinds alike, run on the same executor with the server's stress limits.

With ``STOCKPILE_DASK_WORKERS=0`` analyses run in this process on a thread, one at a time
(tests and embedding only: a solve there shares the web process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from analyses import DaskExecutor, Executor, LocalExecutor
from analyses.robust import robust_on
from analyses.stress import Control, stress_test
from models import Problem
from models.analyses import ComparisonRequest
from models.disruptions import RobustAllocationResult, RobustRequest, StressTestRequest, StressTestResult
from service.errors import InvalidRequest, ServiceUnavailable
from service.observability import arrived_at
from service.settings import Settings
from service.solving import time_budget
from solvers import EngineTuning, TimeBudget

T = TypeVar("T")

# An analysis function: (validated body, executor, options, deadline, on_progress) -> its answer.
Analysis = Callable[..., T]


class AnalysisRunner:
    """Runs analyses on the app's executor, within the server's limits."""

    def __init__(self, settings: Settings, executor: Executor | None = None) -> None:
        self.settings = settings
        if executor is None:
            executor = (
                LocalExecutor()
                if settings.dask_workers == 0 and settings.dask_scheduler is None
                else DaskExecutor(settings.dask_scheduler, workers=max(settings.dask_workers, 1))
            )
        self.executor = executor
        self._in_flight = 0
        self._local_lock = threading.Lock()  # one in-process analysis at a time (HiGHS is not thread-safe)
        self._closed = False

    def limit_problems(self, body: Any) -> list[Problem]:
        """What the server's settings refuse in ``body`` (422), beyond what its model validates."""
        if isinstance(body, ComparisonRequest) and len(body.variants) > self.settings.max_variants:
            return [
                Problem(
                    path="variants",
                    message=f"too many variants: at most {self.settings.max_variants} allowed",
                    code="too_long",
                )
            ]
        return []

    def options(self, body: Any) -> EngineTuning:
        """Each solve's options: the base request's time limit, clamped as a single solve's."""
        request = body.request
        return EngineTuning(time_limit_s=time_budget(self.settings, request).limit_s, mip_gap=request.options.mip_gap)

    async def run(self, analysis: Analysis[T], body: Any, on_progress: Callable[[int, int], None] | None = None) -> T:
        """``analysis(body, ...)`` on the executor; 422 for limits, 503 when too many run already."""
        problems = self.limit_problems(body)
        if problems:
            raise InvalidRequest(problems)
        if self._closed:
            raise ServiceUnavailable("The server is shutting down; send the request to another instance.", 5)
        if self._in_flight >= self.settings.max_analyses:
            raise ServiceUnavailable(
                f"{self._in_flight} analyses are running or waiting already; retry shortly, or submit a job.", 5
            )
        # The analysis's own budget, from the request's arrival; handed down as a wall-clock
        # instant (time.time()), the one clock a remote Dask cluster shares with this process.
        budget = TimeBudget(self.settings.max_analysis_time_s, arrived_at() or time.monotonic())
        deadline = time.time() + budget.remaining()
        options = self.options(body)
        self._in_flight += 1
        try:
            return await anyio.to_thread.run_sync(self._run, analysis, body, options, deadline, on_progress)
        finally:
            self._in_flight -= 1

    def _run(
        self,
        analysis: Analysis[T],
        body: Any,
        options: EngineTuning,
        deadline: float,
        on_progress: Callable[[int, int], None] | None,
    ) -> T:
        if isinstance(self.executor, LocalExecutor):
            with self._local_lock:
                return analysis(body, self.executor, options, deadline, on_progress)
        return analysis(body, self.executor, options, deadline, on_progress)

    def stress_options(self) -> EngineTuning:
        """The solves of a stress test or robust allocation: each clamped as a single solve's is."""
        return EngineTuning(max_time_limit_s=self.settings.max_time_limit_s)

    def stress_test(
        self, body: StressTestRequest, control: Control, samples: dict[str, Any] | None = None
    ) -> StressTestResult:
        """``body`` run to ``STOCKPILE_STRESS_TIME_LIMIT_S``; the executor solves the optimal plan and
        the replan draws (a held plan of the body's own is plain arithmetic here). Blocking."""
        limit = self.settings.stress_time_limit_s
        return stress_test(
            body, self.executor, self.stress_options(), time_limit_s=limit, control=control, samples=samples
        )

    def robust_allocation(self, body: RobustRequest) -> RobustAllocationResult:
        """``body``'s robust allocation, one MIP on the executor. Blocking."""
        return robust_on(self.executor, body, self.stress_options())

    async def close(self) -> None:
        """Stop the local Dask cluster, if one was started."""
        self._closed = True
        close = getattr(self.executor, "close", None)
        if close is not None:
            await anyio.to_thread.run_sync(close)
