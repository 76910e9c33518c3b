"""HiGHS runs that may overrun their time limit: waited for until the limit, then left behind.

HiGHS polls its time limit in most of its loops, not all: at 50,000 offers a full
model's root cut separation, which polls neither the limit nor the interrupt
callbacks, runs 99-112 s on a model given 50-66 s (docs/performance.md, "The guided
solve"). ``watched`` runs such a solve on a thread other than the caller's (``Highs.run``
releases the GIL), gives HiGHS the time left less ``OVERRUN_S`` and waits
for it until the time left; a run still going then is left behind, its
answer never read, and the caller gets a time-limit outcome with nothing
found, so the engine answers with what it already has at its limit (from a
second left up; with less, up to half a second past it).

Each run is made on a thread kept from one run to the next (``_runner``): a
new thread allocates the thread-local storage of the libraries it touches the first
time it touches them, and glibc cannot fail that allocation gracefully. In a worker
whose address space is capped and nearly full, it ended the process ("cannot allocate
memory for thread-local data: ABORT", exit code 127; two requests in six near the
cap, once the model took less memory than HiGHS). A worker calls ``prime_thread`` while it
warms up: the thread is made then, and a first small HiGHS run gives it its storage;
near the cap, HiGHS's own allocations then fail cleanly ("Memory limit reached").

A run left behind keeps its core and its memory until HiGHS returns of its own
accord (tens of seconds past its limit at 10,000 offers). ``left_running``
says how many are still going: a worker process answers, then exits instead of
taking its next job, so that the run ends with the process (killed by its
parent). A process that ends normally waits for its runs left behind: exiting
while HiGHS still runs on another thread aborts it. A command line that must
not wait ends with ``os._exit`` once its output is flushed (``service.cli.run``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import highspy
import numpy as np

from solvers.budget import TimeBudget
from solvers.solve.highs import Compiled, SolveOutcome, SolveState, Watch
from solvers.tuning import EngineTuning

log = logging.getLogger("stockpile.solvers")

# How far past its own time limit a watched run is waited for (its limit is set this much
# before the caller's). A run that stops at its limit returns up to 0.2 s after it on a
# 10,000-offer model. A server stops a solve only after the engine has given up on such a
# run and answered itself: its settings are checked for that at start-up
# (service.settings.Settings, with service.pool.OVERTIME_AFTER_S).
OVERRUN_S = 0.5

_lock = threading.Lock()
_idle: list[ThreadPoolExecutor] = []  # runners whose last run has returned, for the next one
_behind: set[Future] = set()  # runs given up on that have not returned yet


def prime_thread() -> None:
    """Make the thread the next run will be made on, and give it HiGHS's thread-local storage now.

    For a process that will later run near a memory cap (a worker, while it warms up).
    """
    runner = _runner()
    future = _submit(runner, _small_run)
    try:
        future.result()
    finally:
        _kept(runner)


def _submit(runner: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    """``runner.submit``; no thread to be had is out of memory (the runner is then dropped, not kept)."""
    try:
        return runner.submit(fn, *args, **kwargs)
    except RuntimeError as exc:
        # "can't start new thread": no room for the thread's stack, as in a worker whose
        # address space is capped and nearly full. Out of memory, like a failed allocation.
        runner.shutdown(wait=False, cancel_futures=True)  # its queued call must not run later
        raise MemoryError(f"no memory left to start HiGHS's thread ({exc})") from exc


def _small_run() -> None:
    """A one-variable MIP: enough for HiGHS to touch its thread-local storage on this thread."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)  # as every run sets it (solvers/tuning.py)
    h.addVar(0.0, 1.0)
    h.changeColIntegrality(0, highspy.HighsVarType.kInteger)
    h.run()


def _runner() -> ThreadPoolExecutor:
    """A thread for the next run: one kept from an earlier run, or a new one."""
    with _lock:
        if _idle:
            return _idle.pop()
    # Not a daemon thread: an interpreter that exits while HiGHS runs on a daemon thread
    # aborts (std::terminate, exit code 134); at exit, Python waits for a run still going,
    # and an idle runner ends (see module docstring).
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="stockpile-highs")


def _kept(runner: ThreadPoolExecutor) -> None:
    with _lock:
        _idle.append(runner)


def _returned_late(runner: ThreadPoolExecutor, future: Future) -> None:
    with _lock:
        _behind.discard(future)
        _idle.append(runner)


def _forget_runners() -> None:
    """In a forked child: the parent's threads do not exist there."""
    global _lock
    _lock = threading.Lock()
    _idle.clear()
    _behind.clear()


os.register_at_fork(after_in_child=_forget_runners)


def watched(
    run: Callable[..., SolveOutcome],
    compiled: Compiled,
    options: EngineTuning,
    budget: TimeBudget,
    start: np.ndarray | None = None,
    watch: Watch | None = None,
) -> SolveOutcome:
    """``run(compiled, options, limit, start=start)`` (``solvers.solve.highs.solve``), waited for
    until ``limit + OVERRUN_S`` seconds at most (with ``watch``: passed on to the run).

    ``time_left`` is what ``budget`` has left now. The run's own ``limit`` is
    ``time_left - OVERRUN_S``, so that a run that stops at its
    limit, a little past it, is in before ``time_left``, and one that overruns is given up
    at ``time_left``, not past it. With less than ``2 * OVERRUN_S`` left the run gets half
    of it: given up up to ``OVERRUN_S`` past ``time_left`` (less, the more time there is).
    An exception in the run is raised here. A run still going then is left behind and the
    outcome is LIMIT_NO_SOLUTION: whatever it finds later is never read.
    """
    time_left = budget.remaining()
    limit = max(time_left - OVERRUN_S, time_left / 2)
    runner = _runner()
    future = _submit(runner, run, compiled, options, limit, start=start, watch=watch)
    try:
        outcome = future.result(timeout=max(limit, 0.0) + OVERRUN_S)
    except TimeoutError:
        if future.done():  # the run's own TimeoutError, not the wait's
            _kept(runner)
            raise
        with _lock:
            _behind.add(future)
        # kept for another run once this one returns (at once, if it already has)
        future.add_done_callback(lambda done: _returned_late(runner, done))
        log.warning("HiGHS did not stop at its %.1f s time limit; left running, its answer unread", limit)
        seconds = max(limit, 0.0) + OVERRUN_S
        return SolveOutcome(SolveState.LIMIT_NO_SOLUTION, None, None, None, seconds, None, "time limit overrun")
    except BaseException:
        if future.done():  # the run raised: it has returned, and its thread is free
            _kept(runner)
        else:  # the wait was interrupted (KeyboardInterrupt): the run goes on
            with _lock:
                _behind.add(future)
            future.add_done_callback(lambda done: _returned_late(runner, done))
        raise
    _kept(runner)
    return outcome


def left_running() -> int:
    """How many runs ``watched`` left behind are still going in this process."""
    with _lock:
        return len(_behind)
