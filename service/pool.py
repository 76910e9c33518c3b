"""A small pool of solver worker processes that can be killed one at a time.

``concurrent.futures.ProcessPoolExecutor`` is not used: when one of its
workers dies the whole executor is broken, and it cannot stop one running
task. Here every worker is a ``multiprocessing`` process with its own pipe and
runs one job at a time; the parent can kill any worker (at a deadline) and
replaces any worker that dies, while the others go on.

Workers come from the ``forkserver`` start method, with ``service.worker``
(and so Pyomo, HiGHS, NumPy, SciPy) preloaded in the fork server: a new or
replacement worker is a fork of an already-warm interpreter, ready in a
fraction of a second rather than the two seconds a fresh interpreter needs.
The fork server is single-threaded (no solve ever runs in it), so forking it
is safe.

Everything here that blocks (starting a process, waiting on a pipe) runs in
a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from multiprocessing.connection import Connection, wait
from typing import Any

import anyio.to_thread

from solvers import TimeBudget

log = logging.getLogger("stockpile.pool")

_PRELOAD = ["service.worker"]
PROVISIONAL = "provisional"  # a worker's message kind for an answer before the final one (service.worker)
RETIRING = "retiring"  # a worker's message before a reply after which it exits (service.worker)
# The least time HiGHS is given when the wait and the hand-over used up nearly all of a job's time.
MIN_SOLVE_S = 0.05
# A solve with a provisional answer in hand is waited for this long after the later of its due
# time and that answer's arrival: an engine that stops at its limit ends a few tens of ms past
# it, and one whose HiGHS run overran gives up on that run at it (the run's own limit was
# set solvers.solve.overrun.OVERRUN_S earlier) and answers itself (docs/reliability.md). The order
# of the two, and of the hard deadline's grace after them, is checked with the settings
# (service.settings.Settings).
OVERTIME_AFTER_S = 1.0
STARTUP_TIMEOUT_S = 120.0
# Jobs up to this size are sent without a watchdog: they fit in an idle worker's empty socket
# buffer (Linux gives a Unix socket net.core.wmem_default, 208 KiB, unless set lower), so sending
# never waits.
_SENT_AT_ONCE = 64 * 1024


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)  # only effective before the fork server starts
        # One BLAS thread per worker: workers are already one per core.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        return ctx
    return multiprocessing.get_context("spawn")  # pragma: no cover - not POSIX


_main_lock = threading.Lock()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a worker without re-importing the parent's ``__main__`` in it.

    multiprocessing re-runs the parent's main script (or module) in every child
    so that pickled references to it resolve; workers only need
    ``service.worker``, and a main script without an ``if __name__ ==
    "__main__"`` guard (a test runner, an embedding program) would otherwise be
    run again in each worker.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _main_lock:
        saved = dict(main.__dict__)
        main.__dict__.pop("__file__", None)
        main.__spec__ = None
        try:
            yield
        finally:
            for key in ("__file__", "__spec__"):
                if key in saved:
                    main.__dict__[key] = saved[key]


class PoolClosed(Exception):
    """The pool was closed while waiting for a worker."""


class Outcome(Enum):
    OK = "ok"  # payload: the AllocationResult
    MEMORY = "memory"  # the worker ran out of its memory cap (it exits after answering)
    ENGINE = "engine"  # solvers.SolverError: payload is its message
    ERROR = "error"  # unexpected exception in the worker: payload is its message
    CRASHED = "crashed"  # the worker died (signal, abort, OOM); payload: exit code
    DEADLINE = "deadline"  # still running at the hard deadline: killed
    OVERTIME = "overtime"  # still running past its time limit with a provisional answer in hand: stopped


@dataclass(frozen=True, slots=True)
class Job:
    """One solve for a worker: the request, its solver options and the time it may use.

    ``budget`` was made when the request arrived; its clock (``time.monotonic()``) is one
    for every process of the machine, so the worker solves with what is left of it
    (``budget_now``), and the time the job took to reach it (pickling and sending a large
    request) counts against the limit too.
    """

    request: Any  # models.AllocationRequest
    options: Any  # solvers.EngineTuning
    budget: TimeBudget

    @property
    def due(self) -> float:
        """When the answer is due (``time.monotonic()``): the budget's deadline."""
        return self.budget.deadline

    def budget_now(self) -> TimeBudget:
        """What is left of ``budget`` from now, at least MIN_SOLVE_S."""
        return self.budget.rest(at_least=MIN_SOLVE_S)


@dataclass(frozen=True, slots=True)
class JobEnd:
    """How one job ended: its outcome and payload, the last provisional answer it sent (or None),
    and whether the worker said it exits after this job (it is then not to be given another)."""

    outcome: Outcome
    value: Any
    provisional: Any = None
    retiring: bool = False


@dataclass(eq=False)
class Worker:
    process: Any  # multiprocessing Process
    conn: Connection
    pid: int
    started: float = field(default_factory=time.monotonic)
    jobs: int = 0

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL, reap, close the pipe. Blocking (briefly): call from a thread."""
        try:
            self.process.kill()
            self.process.join(timeout=5)
        except (OSError, ValueError):
            pass
        try:
            self.conn.close()
        except OSError:
            pass


def _send_by(worker: Worker, payload: bytes, deadline: float) -> bool:
    """Send ``payload``; False if the worker had not taken it by ``deadline`` and was killed.

    A job larger than the socket's buffer is sent only as fast as the worker reads it. A worker
    that does not read (stopped, or wedged in a C library before it got back to its pipe) would
    hold this thread, and the request, past the hard deadline: at the deadline a timer kills it
    and shuts down our end of the socket, which ends the send with a connection error. (A
    smaller job fits in the idle worker's empty buffer and is sent at once, without the
    timer's thread: 0.1 ms a job.)
    """
    if len(payload) <= _SENT_AT_ONCE:
        worker.conn.send_bytes(payload)
        return True
    lock = threading.Lock()
    sent = killed = False

    def kill() -> None:
        nonlocal killed
        with lock:  # not once the send is over: a worker killed then would read as a crash
            if sent:
                return
            killed = True
        worker.process.kill()
        _shut_down(worker.conn)  # should another process hold the worker's end too

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), kill)
    timer.daemon = True
    timer.start()
    try:
        worker.conn.send_bytes(payload)
    except OSError:
        if not killed:
            raise
    finally:
        timer.cancel()
        with lock:
            sent = True
    return not killed  # killed just as the send ended: the deadline, too


def _shut_down(conn: Connection) -> None:
    """Shut down our end of a worker's socket pair: a send blocked on it fails at once.

    Killing the worker ends a blocked send only if no other process holds the worker's end
    (the fork server closes its copy); this does whoever holds it. The connection is
    unusable after it, as a killed worker's is.
    """
    try:
        with socket.socket(fileno=os.dup(conn.fileno())) as ours:
            ours.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed already, or not a socket
        pass


def _exchange(worker: Worker, job: Job, deadline: float) -> JobEnd:
    """Send one job and wait for its answer until ``deadline`` (time.monotonic).

    Provisional answers the worker sends meanwhile are kept (the last one) and returned
    with whatever ends the job. ``OVERTIME_AFTER_S`` after the later of its ``due`` time and
    the last provisional answer's arrival, that answer ends the job (OVERTIME): the solve has
    overrun its time limit, and the caller answers with what it has rather than wait for the
    hard deadline. Runs on a thread: pickling a large request and unpickling its result stay
    off the event loop.
    """
    payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    provisional, retiring = None, False
    try:
        if not _send_by(worker, payload, deadline):
            return JobEnd(Outcome.DEADLINE, None, None)
        overtime = job.budget.after(OVERTIME_AFTER_S)
        while True:
            # Until the hard deadline; with a provisional answer in hand, until overtime. A message
            # already waiting is read even when that time has passed: it may be the answer.
            until = deadline if provisional is None else min(deadline, overtime)
            ready = wait([worker.conn, worker.process.sentinel], timeout=max(until - time.monotonic(), 0.0))
            if not ready:
                now = time.monotonic()
                if now >= deadline:
                    return JobEnd(Outcome.DEADLINE, None, provisional)
                if provisional is not None and now >= overtime:
                    return JobEnd(Outcome.OVERTIME, None, provisional)
                continue  # woken early
            if worker.conn not in ready:  # only the sentinel: the process ended without answering
                break
            kind, value = pickle.loads(worker.conn.recv_bytes())
            if kind == RETIRING:
                retiring = True
            elif kind == PROVISIONAL:
                provisional = value
                # One that came late (a build longer than the limit) still leaves the solve its time.
                overtime = max(job.due, time.monotonic()) + OVERTIME_AFTER_S
            else:
                return JobEnd(Outcome(kind), value, provisional, retiring)
    except (EOFError, OSError):
        pass
    except Exception:  # an unreadable message: the worker's state is unknown, so it goes as if it had died
        log.exception("unreadable message from solver worker %d; stopping it", worker.pid)
        worker.kill()
    worker.process.join(timeout=5)
    return JobEnd(Outcome.CRASHED, worker.process.exitcode, provisional)


class WorkerPool:
    """``size`` warm worker processes; ``acquire`` one, ``run`` a job on it, ``release`` or ``discard`` it."""

    def __init__(self, size: int, memory_limit_bytes: int = 0) -> None:
        self.size = size
        self.memory_limit_bytes = memory_limit_bytes
        self._ctx = _context()
        self._idle: asyncio.Queue[Worker | None] = asyncio.Queue()  # None: closed, wake up and leave
        self._workers: set[Worker] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._limiter: anyio.CapacityLimiter | None = None  # made on the event loop, in start()
        self._closed = False
        self.restarts: Counter[str] = Counter()
        # Why the last worker start failed, until one succeeds (None: the last start worked, or none ended yet).
        self.start_error: str | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start ``size`` workers in the background (returns at once). Call on the event loop."""
        self._limiter = anyio.CapacityLimiter(self.size + 2)
        for _ in range(self.size):
            self._spawn_later(0.0)

    async def close(self) -> None:
        """Stop every worker: running jobs end as CRASHED, waiters get ``PoolClosed``."""
        if not self._closed:
            self._closed = True
            self._idle.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
        workers = list(self._workers)
        self._workers.clear()
        await anyio.to_thread.run_sync(lambda: [w.kill() for w in workers])

    # -- state ---------------------------------------------------------------

    def live(self) -> int:
        return len(self._workers)

    def idle(self) -> int:
        return 0 if self._closed else self._idle.qsize()

    def pids(self) -> list[int]:
        return sorted(w.pid for w in self._workers)

    # -- jobs ----------------------------------------------------------------

    async def acquire(self) -> Worker:
        """The next idle worker (FIFO among waiters); cancel to stop waiting."""
        while True:
            if self._closed:
                raise PoolClosed
            worker = await self._idle.get()
            if worker is None:
                self._idle.put_nowait(None)  # wake the next waiter too
                raise PoolClosed
            if worker in self._workers and worker.alive():
                return worker
            self.discard(worker, "died_idle")

    def release(self, worker: Worker) -> None:
        if self._closed or worker not in self._workers:
            return
        self._idle.put_nowait(worker)

    def discard(self, worker: Worker, reason: str, running: asyncio.Future[Any] | None = None) -> None:
        """Kill ``worker`` (if still running) and start a replacement.

        ``running``: the exchange still reading the worker's pipe. The process is killed at
        once, but its pipe is closed only when that exchange has returned: a descriptor closed
        under a reading thread may be reused by the replacement's pipe.
        """
        if worker not in self._workers:
            return
        self._workers.discard(worker)
        self.restarts[reason] += 1
        log.warning("replacing solver worker %d (%s)", worker.pid, reason)
        self._background(self._kill(worker, running))
        if not self._closed:
            self._spawn_later(0.0)

    async def _kill(self, worker: Worker, running: asyncio.Future[Any] | None) -> None:
        if running is not None:
            await anyio.to_thread.run_sync(worker.process.kill)
            await asyncio.wait({running})  # it ends when the process does
        await anyio.to_thread.run_sync(worker.kill)

    async def run(self, worker: Worker, job: Job, deadline: float) -> JobEnd:
        """Run ``job`` on ``worker`` until it answers, dies, or ``deadline`` passes (the caller kills it).

        Past ``job.due`` (by ``OVERTIME_AFTER_S``), a provisional answer in hand ends the job too
        (OVERTIME; the caller kills the worker).
        """
        worker.jobs += 1
        return await anyio.to_thread.run_sync(_exchange, worker, job, deadline, limiter=self._limiter)

    # -- spawning ------------------------------------------------------------

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_later(self, delay: float) -> None:
        self._background(self._spawn(delay))

    async def _spawn(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if self._closed:
            return
        try:
            worker = await anyio.to_thread.run_sync(self._start_worker)
        except Exception as exc:  # noqa: BLE001 - logged; the pool retries
            self.start_error = str(exc)
            if self.memory_limit_bytes > 0:
                cap = self.memory_limit_bytes // 2**20
                self.start_error += f" (under a memory cap of {cap} MiB, STOCKPILE_WORKER_MEMORY_MB: too low?)"
            log.error("could not start a solver worker: %s; retrying in 2 s", self.start_error)
            self.restarts["start_failed"] += 1
            self._spawn_later(2.0)
            return
        self.start_error = None
        if self._closed:
            await anyio.to_thread.run_sync(worker.kill)
            return
        self._workers.add(worker)
        self._idle.put_nowait(worker)

    def _start_worker(self) -> Worker:
        from service.worker import main

        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=main, args=(child, self.memory_limit_bytes), name="stockpile-solver", daemon=True
        )
        with _main_module_hidden():
            process.start()
        child.close()  # so that the worker's death reads as EOF here
        worker = Worker(process=process, conn=parent, pid=process.pid)
        ready = wait([parent, process.sentinel], timeout=STARTUP_TIMEOUT_S)
        try:
            if parent in ready:
                kind, value = pickle.loads(parent.recv_bytes())
                if kind == "ready":
                    return worker
                raise RuntimeError(str(value))
            raise RuntimeError(
                "worker did not start in time" if not ready else f"worker exited with code {process.exitcode}"
            )
        except BaseException:
            worker.kill()
            raise
