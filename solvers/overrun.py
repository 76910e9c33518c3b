"""HiGHS runs that may overrun their time limit: waited for until the limit, then left behind.

HiGHS polls its time limit in most of its loops, not all: at 50,000 offers a full
model's root cut separation, which polls neither the limit nor the interrupt
callbacks, ran 99-112 s on a model given 50-66 s (docs/performance.md, changes
19-21). ``watched`` runs such a solve on a thread of its own (``Highs.run``
releases the GIL), gives HiGHS the time left less ``OVERRUN_S`` and waits
for it until the time left; a run still going then is left behind, its
answer never read, and the caller gets a time-limit outcome with nothing
found, so the engine answers with what it already has at its limit (from a
second left up; with less, up to half a second past it).

A run left behind keeps its core and its memory until HiGHS returns of its own
accord (46 s past its limit in the case measured). ``left_running``
says how many are still going: a worker process answers, then exits instead of
taking its next job, so that the run ends with the process (killed by its
parent). A process that ends normally waits for its runs left behind: exiting
while HiGHS still runs on another thread aborts it. A command line that must
not wait ends with ``os._exit`` once its output is flushed (``service.cli.run``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from solvers.highs import Compiled, SolveOutcome, SolveState
from solvers.options import SolverOptions

log = logging.getLogger("stockpile.solvers")

# How far past its own time limit a watched run is waited for (its limit is set this much
# before the caller's). A run that stops at its limit returns up to 0.2 s after it on a
# 10,000-offer model (measured: docs/performance.md). Less than
# service.pool.OVERTIME_AFTER_S: the engine gives up first and answers itself.
OVERRUN_S = 0.5

_behind: list[threading.Thread] = []
_behind_lock = threading.Lock()


def watched(
    run: Callable[..., SolveOutcome],
    compiled: Compiled,
    options: SolverOptions,
    time_left: float,
    start: np.ndarray | None = None,
) -> SolveOutcome:
    """``run(compiled, options, limit, start=start)`` (``solvers.highs.solve``), waited for
    until ``limit + OVERRUN_S`` seconds at most.

    The run's own ``limit`` is ``time_left - OVERRUN_S``, so that a run that stops at its
    limit, a little past it, is in before ``time_left``, and one that overruns is given up
    at ``time_left``, not past it. With less than ``2 * OVERRUN_S`` left the run gets half
    of it: given up up to ``OVERRUN_S`` past ``time_left`` (less, the more time there is).
    An exception in the run is raised here. A run still going then is left behind and the
    outcome is LIMIT_NO_SOLUTION: whatever it finds later is never read.
    """
    box: dict[str, Any] = {}
    limit = max(time_left - OVERRUN_S, time_left / 2)

    def target() -> None:
        try:
            box["outcome"] = run(compiled, options, limit, start=start)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    # Not a daemon: an interpreter that exits while HiGHS runs on a daemon thread aborts
    # (std::terminate, exit code 134); it waits for this one instead (see module docstring).
    thread = threading.Thread(target=target, name="stockpile-highs")
    try:
        thread.start()
    except RuntimeError as exc:
        # "can't start new thread": no room for the thread's stack, as in a worker whose
        # address space is capped and nearly full. Out of memory, like a failed allocation.
        raise MemoryError(f"no memory left to start HiGHS's thread ({exc})") from exc
    thread.join(max(limit, 0.0) + OVERRUN_S)
    if thread.is_alive():
        with _behind_lock:
            _behind.append(thread)
        log.warning("HiGHS did not stop at its %.1f s time limit; left running, its answer unread", limit)
        seconds = max(limit, 0.0) + OVERRUN_S
        return SolveOutcome(SolveState.LIMIT_NO_SOLUTION, None, None, None, seconds, None, "time limit overrun")
    if "error" in box:
        raise box["error"]
    return box["outcome"]


def left_running() -> int:
    """How many runs ``watched`` left behind are still going in this process."""
    with _behind_lock:
        _behind[:] = [t for t in _behind if t.is_alive()]
        return len(_behind)
