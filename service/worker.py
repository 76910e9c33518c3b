"""The solver worker process: receives requests on a pipe, solves, answers.

This module runs in the worker processes only (and is preloaded into the
multiprocessing fork server, so that a new worker starts with Pyomo, HiGHS,
NumPy and SciPy already imported). The web process never solves.

Protocol on the worker's end of a ``multiprocessing`` pipe, every message a
pickled tuple:

    worker -> parent  ("ready", pid)                      once, after the warm-up solve
    parent -> worker  service.pool.Job                    one job at a time (request, options, budget)
    worker -> parent  ("provisional", AllocationResult)   any number, before the answer (see below)
                      ("retiring", None)                  the worker exits after the answer that follows
                      ("ok", AllocationResult)
                      ("memory", message)                 then the worker exits
                      ("engine", message)                 solvers.SolverError
                      ("error", message)                  anything else (a bug)

A job's solve gets what is left of the time budget its request was given when it
arrived (``Job.budget_now``): the time the job took to arrive is spent like any other. A "provisional" message
carries a checked allocation the solve found before its final one
(``solvers.allocate``'s ``on_provisional``): the parent keeps the last, and
answers with it if the job ends without its answer (still running past ``due``,
killed at the hard deadline, died, out of memory, failed).

A solve that left a HiGHS run going past its time limit (``solvers.left_running``)
sends "retiring" before its answer and the worker exits after it: the run ends
with the process instead of holding a core and its memory into the next job.

A worker that dies (segfault, abort, OOM kill, SIGKILL from the parent at the
deadline) simply closes its pipe; the parent notices and replaces it.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing.forkserver
import os
import pickle
import resource
import signal
import sys
from multiprocessing.connection import Connection

# Imported here, at module level, so that the fork server preloads them.
import scipy.sparse  # noqa: F401  (Pyomo imports it lazily on the first solve: ~1 s)

from service.examples import example_request, names
from service.malloc import keep_freed_memory
from service.pool import PROVISIONAL, RETIRING
from solvers import EngineTuning, SolverError, allocate, left_running, prime_thread

_PR_SET_PDEATHSIG = 1
WORKER_NICENESS = 5
_MEMORY_REPLY = pickle.dumps(("memory", "the model needs more memory than a solver worker may use"))


def _die_with_parent() -> None:
    """Linux: be killed when the fork server (and so the web process) goes away (see below)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _let_the_fork_server_end() -> None:
    """Close this worker's copy of the fork server's "alive" pipe.

    The fork server ends when every holder of that pipe's write end has closed it: the
    web process holds one, and multiprocessing hands one to each child it forks. A
    worker busy solving when the web process was killed kept the fork server alive,
    and so itself (its ``PR_SET_PDEATHSIG`` is the fork server's death), until its
    solve ended. Without its copy, the fork server ends with the web process.
    """
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        os.close(fd)
        server._forkserver_alive_fd = None


def _cap_memory(limit_bytes: int) -> None:
    if limit_bytes > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _set_up_process(memory_limit_bytes: int) -> None:
    """What a worker process is, before it solves anything."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the web process's to handle
    _die_with_parent()
    _let_the_fork_server_end()
    _cap_memory(memory_limit_bytes)
    keep_freed_memory()  # (without glibc's mallopt, the C library's defaults stand)
    # Solves are CPU-bound and may fill every core; the web process (health checks,
    # 503s, parsing) must still get the CPU at once when it needs it.
    os.nice(WORKER_NICENESS)


def main(conn: Connection, memory_limit_bytes: int) -> None:
    """Worker entry point: cap memory, warm up, then serve jobs until the pipe closes."""
    _set_up_process(memory_limit_bytes)
    try:
        # One small solve: loads the lazy parts of Pyomo and HiGHS, proves the solver works.
        allocate(example_request(names()[0]), EngineTuning(time_limit_s=30))
        prime_thread()  # the thread long HiGHS runs are watched on, made now, with memory to spare
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which logs it
        conn.send_bytes(pickle.dumps(("error", f"warm-up solve failed: {exc!r}")))
        sys.exit(1)
    collect_between_jobs()
    conn.send_bytes(pickle.dumps(("ready", os.getpid())))
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the parent closed the pipe: shut down
        except MemoryError:
            reply, recycle = _MEMORY_REPLY, True
        else:
            reply, recycle = _run(data, conn)
            del data  # before the next receive, so that two requests are never held at once
        try:
            conn.send_bytes(reply)
        except (BrokenPipeError, OSError):
            return
        except MemoryError:
            conn.send_bytes(_MEMORY_REPLY)  # made in advance: sending it allocates nothing new
            return
        if recycle:
            return
        gc.collect()  # this job's model, now that its answer is sent (see collect_between_jobs)


def collect_between_jobs() -> None:
    """Collect garbage between jobs, not during them.

    A solve leaves some cyclic garbage behind (about 1,300 objects at 500 offers: the
    Pyomo model itself is freed by ``solvers.build.program.release``), and ``allocate`` pauses the
    collector while it runs, so that garbage is found by the first collection after it:
    inside the reply, or inside the next request. Here the worker collects after each
    answer is sent instead, while it would be idle, and everything alive after the
    warm-up (Pyomo, HiGHS, NumPy, SciPy) is frozen out of the collector's view, so that
    a collection scans only the job's own objects (a few ms at most, against 55 ms for
    the whole heap; docs/performance.md, "No garbage collection during a solve").
    """
    gc.collect()
    gc.freeze()
    gc.disable()


def _run(data: bytes, conn: Connection) -> tuple[bytes, bool]:
    """One job; the reply and whether this worker should exit after sending it.

    A HiGHS run the solve left going past its limit (whatever the job's outcome) ends
    with this worker: "retiring" goes ahead of the reply, and the worker exits after it.
    """
    reply, recycle = _reply(data, conn)
    if left_running():
        conn.send_bytes(pickle.dumps((RETIRING, None)))
        recycle = True
    return reply, recycle


def _reply(data: bytes, conn: Connection) -> tuple[bytes, bool]:
    def provisional(result) -> None:
        conn.send_bytes(pickle.dumps((PROVISIONAL, result), protocol=pickle.HIGHEST_PROTOCOL))

    try:
        job = pickle.loads(data)
        result = allocate(job.request, job.options, on_provisional=provisional, budget=job.budget_now())
        return pickle.dumps(("ok", result)), False
    except MemoryError:
        # The heap may be fragmented or half-built objects may linger: start afresh.
        return _MEMORY_REPLY, True
    except SolverError as exc:
        return pickle.dumps(("engine", str(exc))), False
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which logs it
        return pickle.dumps(("error", f"{type(exc).__name__}: {exc}")), False
