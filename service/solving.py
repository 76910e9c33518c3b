"""Where solves run, seen from the web layer: ``await gateway.solve(request)``.

HiGHS solves are CPU-bound, can overrun their time limit and can take their
process down, so the web process never solves. ``PoolGateway`` (the default)
hands each request to a worker process from ``service.pool.WorkerPool``:

* at most ``workers`` solves run at once; up to ``queue_length`` more wait,
  each at most ``queue_max_wait_s`` (and never longer than its own time
  limit); beyond that: 503 with ``Retry-After``;
* the time limit counts from the request reaching the server
  (``service.observability.arrived_at``; the gateway, when called outside a
  request): HiGHS is given the time that is left after reading the body,
  validating it, waiting (a wait that never runs past the deadline) and
  handing the job to a worker;
* a solve still running ``OVERTIME_AFTER_S`` (1 s) past the later of its
  time limit and its last provisional allocation (``solvers.allocate``'s
  ``on_provisional``: checked, ``feasible``) is stopped then and the request
  answered with that allocation: HiGHS does not always stop at its limit
  (docs/performance.md, "The guided solve"), and the engine, which gives up on
  such a run itself (``solvers.solve.overrun``), may be stuck elsewhere;
* the response comes within ``time_limit_s + solve_grace_s`` whatever the
  solver does: a worker still busy at that hard deadline is killed and the
  request answered with its last provisional allocation, or ``no_solution``
  when it had none; a request whose deadline passed before a worker took it
  is answered ``no_solution`` without one;
* a worker that dies mid-solve is replaced; its request gets its last
  provisional allocation, or 503 with ``Retry-After`` when it had none; a
  model that outgrows the worker memory cap gets 422;
* ``drain`` (on SIGTERM) turns readiness off, refuses new solves with 503
  and waits for the queued and running ones;
* a solve whose caller stops waiting (``until_gone``: its client hung up) leaves
  the queue, or has its worker killed and replaced, rather than holding a worker
  for an answer nobody will read.

``InProcessGateway`` solves one request at a time on a thread of this process;
it has none of these protections and is kept for tests and embedding.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import anyio.to_thread

from models import AllocationRequest, AllocationResult, Finding, Severity, Status
from service.errors import ClientGone, EngineFailure, ModelTooLarge, ServiceUnavailable
from service.observability import arrived_at, note_timing
from service.pool import Job, JobEnd, Outcome, PoolClosed, WorkerPool
from service.settings import Settings
from solvers import EngineTuning, TimeBudget, allocate, empty_result

T = TypeVar("T")

SHUT_DOWN = "The server shut down before this solve could finish; send it to another instance."


def time_budget(settings: Settings, request: AllocationRequest, arrival: float | None = None) -> TimeBudget:
    """The time ``request`` may use, counted from ``arrival`` (``time.monotonic()``; None: now).

    Its own ``time_limit_s``, or the server's default when it gives none, clamped to the
    server's maximum. Made once, when the request arrives, and handed down to whatever solves it.
    """
    asked = request.options.model_fields_set if "options" in request.model_fields_set else set()
    limit = request.options.time_limit_s if "time_limit_s" in asked else settings.default_time_limit_s
    return TimeBudget.start(limit, settings.max_time_limit_s, began=arrival)


@dataclass(frozen=True, slots=True)
class GatewayStats:
    """A snapshot for /metrics."""

    workers: int  # live worker processes
    busy: int  # solves running now
    queued: int  # requests waiting for a worker
    restarts: dict[str, int] = field(default_factory=dict)  # worker replacements by reason
    solves: dict[str, int] = field(default_factory=dict)  # finished solves by outcome


class SolveGateway(Protocol):
    async def solve(self, request: AllocationRequest) -> AllocationResult: ...

    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def drain(self, timeout: float) -> bool:
        """Refuse new solves, wait up to ``timeout`` s for the others; True when none is left."""
        ...

    async def close(self) -> None: ...

    def stats(self) -> GatewayStats: ...


def no_solution_result(
    request: AllocationRequest, seconds: float, limit: float, started: bool = True
) -> AllocationResult:
    """The answer for a solve stopped at the hard deadline, or never started before it: nothing bought."""
    what = (
        "The solve was stopped at the server's hard deadline"
        if started
        else "Reading and validating the request used up the server's hard deadline"
    )
    message = (
        f"{what} ({limit:g} s time limit plus grace) before it returned an allocation. "
        "Allow a longer time_limit_s, or simplify the request."
    )
    finding = Finding(code="deadline_exceeded", severity=Severity.ERROR, message=message)
    return empty_result(request, Status.NO_SOLUTION, seconds, [finding])


def provisional_answer(result: AllocationResult, code: str, why: str, seconds: float) -> AllocationResult:
    """A solve's last provisional answer (checked, ``feasible``) as the answer to a solve that was stopped."""
    message = (
        f"{why}. This is the last allocation it had found and checked; it is not proven best "
        "(see mip_gap and the other findings). Send the request again, or allow a longer time_limit_s, "
        "for a finished solve."
    )
    finding = Finding(code=code, severity=Severity.WARNING, message=message)
    return result.model_copy(update={"diagnostics": [finding, *result.diagnostics], "solve_seconds": seconds})


@dataclass(frozen=True, slots=True)
class _Stop:
    """Why a job ended without its answer: in words (before a provisional answer), and as the error to raise."""

    why: str
    error: Exception | None  # None: the job hit the hard deadline, answered no_solution


class PoolGateway:
    """Solves in worker processes, with a bounded queue and hard deadlines."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool = WorkerPool(settings.workers, settings.worker_memory_mb * 1024 * 1024)
        self._waiting = 0
        self._running = 0
        self._in_flight = 0  # waiting or running
        self._draining = False
        self._closed = False
        self._started = False
        self._idle_event: asyncio.Event | None = None
        self._solves: Counter[str] = Counter()

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers in the background: /readyz says 503 until one is warm."""
        self._idle_event = asyncio.Event()
        self._idle_event.set()
        self._pool.start()
        self._started = True

    def ready(self) -> bool:
        return self._started and not self._draining and self._pool.live() > 0

    async def drain(self, timeout: float) -> bool:
        self._draining = True
        if self._idle_event is None:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._idle_event.wait()
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        """Stop the workers; solves still running or waiting get 503."""
        self._draining = True
        self._closed = True
        await self._pool.close()

    def stats(self) -> GatewayStats:
        return GatewayStats(
            workers=self._pool.live(),
            busy=self._running,
            queued=self._waiting,
            restarts=dict(self._pool.restarts),
            solves=dict(self._solves),
        )

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for operators and tests)."""
        return self._pool.pids()

    # -- solving ------------------------------------------------------------------

    async def solve(self, request: AllocationRequest) -> AllocationResult:
        queued = time.monotonic()
        # The time limit counts from the request's arrival at the server: reading and
        # validating its body (seconds at 50,000 offers) and the wait are part of it.
        budget = time_budget(self._settings, request, min(arrived_at() or queued, queued))
        arrival, limit = budget.began, budget.limit_s
        refusal = self.admission_error()
        if refusal is not None:
            raise refusal
        deadline = budget.after(self._settings.solve_grace_s)
        self._enter()
        try:
            if time.monotonic() >= deadline:  # reading and validating took it all: no worker for it
                return self._expired(request, arrival, limit)
            wait = min(self._settings.queue_max_wait_s, limit, deadline - time.monotonic())
            worker = await self._wait_for_worker(wait)
            note_timing(queue_wait_s=time.monotonic() - queued)
            if time.monotonic() >= deadline:  # (a worker freed up only at the deadline)
                self._pool.release(worker)
                return self._expired(request, arrival, limit)
            self._running += 1
            try:
                job = Job(request, EngineTuning(), budget)
                began = time.monotonic()
                end = await self._run(worker, job, deadline)
                note_timing(solve_s=time.monotonic() - began)
            finally:
                self._running -= 1
            return self._answer(request, worker, end, time.monotonic() - arrival, limit)
        except asyncio.CancelledError:  # the caller stopped waiting: its client hung up
            self._solves["abandoned"] += 1
            raise
        finally:
            self._leave()

    async def _run(self, worker, job: Job, deadline: float) -> JobEnd:
        """``pool.run``; if the caller stops waiting, the worker is killed (and replaced) at once.

        The exchange runs on a thread, which a cancellation cannot stop: it ends when the
        killed worker's pipe closes, and its outcome is dropped.
        """
        run = asyncio.ensure_future(self._pool.run(worker, job, deadline))
        try:
            return await asyncio.shield(run)
        except asyncio.CancelledError:
            self._pool.discard(worker, "abandoned", running=run)
            raise

    def _expired(self, request: AllocationRequest, arrival: float, limit: float) -> AllocationResult:
        """The answer for a request whose hard deadline passed before a worker took it."""
        self._solves["expired"] += 1
        return no_solution_result(request, time.monotonic() - arrival, limit, started=False)

    def admission_error(self) -> ServiceUnavailable | None:
        """Why a new solve would be refused now (counted as refused), or None.

        Also asked before a solve's body is read (``service.limits.AdmissionMiddleware``),
        so that excess load is refused without the cost of reading and validating it.
        """
        if self._draining or not self._started:
            self._solves["refused"] += 1
            return ServiceUnavailable("The server is shutting down; send the request to another instance.", 5)
        if self._pool.live() == 0 and self._pool.start_error is not None:
            self._solves["refused"] += 1
            return ServiceUnavailable(
                f"No solver worker is running: the last one failed to start ({self._pool.start_error}).", 5
            )
        if self._pool.idle() == 0 and self._waiting >= self._settings.queue_length:
            self._solves["refused"] += 1
            return ServiceUnavailable(
                f"All {self._settings.workers} solver workers are busy and {self._waiting} requests are "
                "already waiting; retry shortly.",
                self._retry_after(),
            )
        return None

    async def _wait_for_worker(self, max_wait: float):
        self._waiting += 1
        try:
            async with asyncio.timeout(max_wait):
                return await self._pool.acquire()
        except PoolClosed:
            self._solves["refused"] += 1
            raise ServiceUnavailable(SHUT_DOWN, 5) from None
        except TimeoutError:
            self._solves["refused"] += 1
            raise ServiceUnavailable(
                f"No solver worker became free within {max_wait:g} s; retry shortly.", self._retry_after()
            ) from None
        finally:
            self._waiting -= 1

    def _answer(self, request: AllocationRequest, worker, end: JobEnd, elapsed: float, limit: float):
        """The response for a finished job: its result, or (stopped) its last provisional one, or an error."""
        outcome, value = end.outcome, end.value
        if outcome is Outcome.OK:
            self._release(worker, end)
            self._solves[value.status.value] += 1
            return value
        stop = self._stopped(worker, end, limit)
        if end.provisional is not None:
            code = "deadline_exceeded" if outcome in (Outcome.DEADLINE, Outcome.OVERTIME) else "solve_interrupted"
            return provisional_answer(end.provisional, code, stop.why, elapsed)
        if stop.error is None:
            return no_solution_result(request, elapsed, limit)
        raise stop.error

    def _release(self, worker, end: JobEnd) -> None:
        """Back to the pool, unless it said it exits after this job (a HiGHS run left going)."""
        if end.retiring:
            self._pool.discard(worker, "overrun")
        else:
            self._pool.release(worker)

    def _stopped(self, worker, end: JobEnd, limit: float) -> _Stop:
        """Release or replace the worker of a job that did not answer, count it, and say why."""
        pool, memory = self._pool, self._settings.worker_memory_mb
        outcome, value = end.outcome, end.value
        if outcome is Outcome.OVERTIME:
            pool.discard(worker, "overtime")
            self._solves["overtime"] += 1
            return _Stop(f"The solve was still running past its {limit:g} s time limit and was stopped", None)
        if outcome is Outcome.DEADLINE:
            pool.discard(worker, "deadline")
            self._solves["deadline"] += 1
            why = f"The solve was stopped at the server's hard deadline ({limit:g} s time limit plus grace)"
            return _Stop(why, None)
        if outcome is Outcome.CRASHED and self._closed:
            self._solves["stopped"] += 1
            return _Stop("The server shut down before this solve could finish", ServiceUnavailable(SHUT_DOWN, 5))
        if outcome is Outcome.CRASHED:
            pool.discard(worker, "crash")
            self._solves["crashed"] += 1
            why = f"The solver worker stopped unexpectedly (exit code {value}) and has been replaced"
            return _Stop(why, ServiceUnavailable(f"{why}; retry the request.", 2))
        if outcome is Outcome.MEMORY:
            pool.discard(worker, "memory")
            self._solves["memory"] += 1
            why = f"The model outgrew a solver worker's memory cap ({memory} MiB, STOCKPILE_WORKER_MEMORY_MB)"
            return _Stop(
                why,
                ModelTooLarge(
                    f"The model for this request needs more memory than a solver worker may use "
                    f"({memory} MiB, STOCKPILE_WORKER_MEMORY_MB); send fewer suppliers, tiers or minerals."
                ),
            )
        self._release(worker, end)
        self._solves["engine_error"] += 1
        return _Stop(f"The solver failed before the solve finished ({value})", EngineFailure(str(value)))

    def _enter(self) -> None:
        self._in_flight += 1
        if self._idle_event is not None:
            self._idle_event.clear()

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self._idle_event is not None:
            self._idle_event.set()

    def _retry_after(self) -> int:
        """Seconds until a retry is likely to find room: a rough guess, at least 1."""
        return max(1, math.ceil((self._waiting + 1) / max(self._settings.workers, 1)))


async def until_gone(solve: Awaitable[T], gone: Awaitable[None]) -> T:
    """``solve``'s answer, unless ``gone`` (the client hung up) comes first: then ``solve`` is
    cancelled (a gateway stops its solve) and ``ClientGone`` is raised."""
    task, watch = asyncio.ensure_future(solve), asyncio.ensure_future(gone)
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise ClientGone("The client closed the connection before the answer; its solve was stopped.")
        return task.result()
    finally:
        watch.cancel()
        if not task.done():  # (this coroutine itself was cancelled)
            task.cancel()


class InProcessGateway:
    """One solve at a time, on a thread, in this process (no isolation: tests and embedding only).

    A HiGHS run a solve left going past its limit (``solvers.left_running``) goes on beside
    the next solve, holding a core and its memory until it ends: the pool has workers exit
    instead, and this gateway has no such protection.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._ready = False
        self._draining = False
        self._solves: Counter[str] = Counter()

    async def start(self) -> None:
        from service.examples import example_request, names

        # A first solve loads Pyomo and HiGHS and proves the solver works.
        warm = example_request(names()[0])
        await anyio.to_thread.run_sync(self._solve, warm)
        self._ready = True

    def ready(self) -> bool:
        return self._ready and not self._draining

    async def solve(self, request: AllocationRequest) -> AllocationResult:
        if self._draining:
            raise ServiceUnavailable("The server is shutting down.", 5)
        result = await anyio.to_thread.run_sync(self._solve, request)
        self._solves[result.status.value] += 1
        return result

    def _solve(self, request: AllocationRequest) -> AllocationResult:
        with self._lock:
            try:  # (its time counts from here: a solve waiting for the one before it has not started)
                return allocate(request, budget=time_budget(self._settings, request))
            except MemoryError:
                raise ModelTooLarge(
                    "The model for this request needs more memory than the server has; "
                    "send fewer suppliers, tiers or minerals."
                ) from None

    async def drain(self, timeout: float) -> bool:
        self._draining = True
        return True

    async def close(self) -> None:
        self._ready = False

    def stats(self) -> GatewayStats:
        return GatewayStats(workers=1, busy=int(self._lock.locked()), queued=0, solves=dict(self._solves))
