"""Where solves run, seen from the web layer: ``await gateway.solve(request)``.

HiGHS solves are CPU-bound and Pyomo's HiGHS plumbing is not safe to run
twice at once in one process, so the event loop never solves: it hands the
request to a gateway. ``InProcessGateway`` runs one solve at a time on a
worker thread (a lock serialises them); the event loop stays free for
health checks while it does.
"""

from __future__ import annotations

import threading
from typing import Protocol

import anyio.to_thread

from models import AllocationRequest, AllocationResult
from service.settings import Settings
from solvers import SolverOptions, allocate


def solver_options(settings: Settings, request: AllocationRequest) -> SolverOptions:
    """The server's defaults and limits applied to one request's options."""
    asked = request.options.model_fields_set if "options" in request.model_fields_set else set()
    limit = request.options.time_limit_s if "time_limit_s" in asked else settings.default_time_limit_s
    return SolverOptions(time_limit_s=limit, max_time_limit_s=settings.max_time_limit_s)


class SolveGateway(Protocol):
    async def solve(self, request: AllocationRequest) -> AllocationResult: ...

    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class InProcessGateway:
    """One solve at a time, on a thread, in this process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._ready = False

    async def start(self) -> None:
        from service.examples import example_request, names

        # A first solve loads Pyomo and HiGHS and proves the solver works.
        warm = example_request(names()[0])
        await self.solve(warm)
        self._ready = True

    def ready(self) -> bool:
        return self._ready

    async def solve(self, request: AllocationRequest) -> AllocationResult:
        options = solver_options(self._settings, request)
        return await anyio.to_thread.run_sync(self._solve, request, options)

    def _solve(self, request: AllocationRequest, options: SolverOptions) -> AllocationResult:
        with self._lock:
            return allocate(request, options)

    async def close(self) -> None:
        self._ready = False
