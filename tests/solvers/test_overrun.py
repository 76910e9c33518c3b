"""HiGHS runs that overrun their time limit are left behind (solvers/solve/overrun.py)."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from models import Status
from service import worker as worker_module
from service.pool import Job
from solvers import TimeBudget, allocate, check_result, left_running
from solvers.errors import SolverFailed
from solvers.solve import overrun
from solvers.solve.highs import SolveOutcome, SolveState
from solvers.solve.overrun import OVERRUN_S, watched
from solvers.tuning import EngineTuning
from tests.reliability.conftest import wait_until
from tests.solvers.test_guided import GUIDED, _count_solves, _restrict_to, _two_offer_request

DONE = SolveOutcome(SolveState.OPTIMAL, 1.0, 1.0, 0.0, 0.0, np.zeros(1), "Optimal")


def _join_left_behind() -> None:
    wait_until(lambda: left_running() == 0, timeout=10)


def test_a_run_that_stops_in_time_is_returned_as_it_is():
    seen = []

    def run(compiled, options, time_left, start=None, watch=None):
        seen.append((compiled, options, time_left, start))
        return DONE

    assert watched(run, "compiled", "options", TimeBudget.start(5.0), start="start") is DONE
    # HiGHS's own limit is set OVERRUN_S early, so that even a run that overruns it is
    # given up by the caller's limit
    [(compiled, options, limit, start)] = seen
    assert (compiled, options, start) == ("compiled", "options", "start")
    assert limit == pytest.approx(5.0 - OVERRUN_S, abs=0.05)
    assert left_running() == 0


def test_an_error_in_the_run_is_raised_to_the_caller():
    def run(compiled, options, time_left, start=None, watch=None):
        raise MemoryError

    with pytest.raises(MemoryError):
        watched(run, None, None, TimeBudget.start(5.0))


def test_no_room_for_the_runs_thread_is_out_of_memory(monkeypatch):
    # In a worker capped near its peak the model can fit and the thread's stack not:
    # "can't start new thread" must be "model too large", not a 500.
    def start(self):
        raise RuntimeError("can't start new thread")

    ran = []

    def run(compiled, options, time_left, start=None, watch=None):
        ran.append(compiled)
        return DONE

    real_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", start)
    monkeypatch.setattr(overrun, "_idle", [])  # no thread kept from an earlier run: a new one is needed
    with pytest.raises(MemoryError, match="HiGHS's thread"):
        watched(run, "never", None, TimeBudget.start(5.0))
    with pytest.raises(MemoryError, match="HiGHS's thread"):
        overrun.prime_thread()
    # Threads start again: the calls that found none never run, on any thread.
    monkeypatch.setattr(threading.Thread, "start", real_start)
    assert watched(run, "next", None, TimeBudget.start(5.0)) is DONE
    assert ran == ["next"] and overrun._idle


def test_a_timeout_raised_by_the_run_itself_is_raised_not_taken_for_an_overrun():
    def run(compiled, options, time_left, start=None, watch=None):
        raise TimeoutError("the run's own")

    with pytest.raises(TimeoutError, match="the run's own"):
        watched(run, None, None, TimeBudget.start(5.0))
    assert left_running() == 0


def test_runs_one_after_another_are_made_on_one_kept_thread():
    # A new thread allocates thread-local storage when a library first touches it, which
    # glibc cannot fail cleanly: near a memory cap it ended the worker (exit code 127).
    threads = []

    def run(compiled, options, time_left, start=None, watch=None):
        threads.append(threading.get_ident())
        if compiled == "fails":
            raise MemoryError
        return DONE

    watched(run, None, None, TimeBudget.start(5.0))
    with pytest.raises(MemoryError):
        watched(run, "fails", None, TimeBudget.start(5.0))
    watched(run, None, None, TimeBudget.start(5.0))
    assert len(threads) == 3 and len(set(threads)) == 1 and threads[0] != threading.get_ident()


def test_a_run_left_behind_has_the_next_run_made_on_another_thread_and_its_own_kept_after():
    release = threading.Event()
    threads = []

    def run(compiled, options, time_left, start=None, watch=None):
        threads.append(threading.get_ident())
        if compiled == "overruns":
            release.wait(30)
        return DONE

    watched(run, None, None, TimeBudget.start(5.0))  # a kept thread
    assert watched(run, "overruns", None, TimeBudget.start(0.2)).state is SolveState.LIMIT_NO_SOLUTION
    assert watched(run, None, None, TimeBudget.start(5.0)) is DONE  # not queued behind the run left behind
    release.set()
    _join_left_behind()
    assert threads[1] == threads[0] != threads[2]
    assert len(overrun._idle) >= 2  # both kept, once the late run returned
    assert left_running() == 0


@pytest.mark.parametrize(
    ("time_left", "limit"), [(1.5, 1.5 - OVERRUN_S), (0.2, 0.1)], ids=["a second or more left", "under a second"]
)
def test_a_run_past_its_limit_is_left_behind_until_it_returns(time_left, limit):
    release = threading.Event()
    given = []

    def run(compiled, options, time_left, start=None, watch=None):
        given.append(time_left)
        release.wait(30)  # a HiGHS root that polls no limit
        return DONE

    began = time.perf_counter()
    outcome = watched(run, None, None, TimeBudget.start(time_left))
    waited = time.perf_counter() - began
    try:
        # HiGHS's own limit: OVERRUN_S early, or half the time under a second
        assert given == [pytest.approx(limit, abs=0.05)]
        assert outcome.state is SolveState.LIMIT_NO_SOLUTION and outcome.values is None
        # given up OVERRUN_S past the run's own limit: from a second left up, at the caller's
        assert limit + OVERRUN_S <= waited < limit + OVERRUN_S + 0.4
        assert left_running() == 1
    finally:
        release.set()
    _join_left_behind()
    assert left_running() == 0


@pytest.fixture
def full_model_overruns(monkeypatch):
    """The guided full MIP (the third run) runs on past its limit until the test ends.

    Restricted to dear: 1,200 against the LP's 1,050. Yields the list of runs made
    ("relaxation", "restricted" or "full").
    """
    release = threading.Event()

    def full_run_overruns(solve, compiled, *args, **kwargs):
        if len(runs) == 3:
            release.wait(30)  # a HiGHS root that polls no limit
            return replace(solve(compiled, *args, **kwargs), message="came too late")
        return solve(compiled, *args, **kwargs)

    runs = _count_solves(monkeypatch, full_run_overruns)
    _restrict_to(monkeypatch, {1})
    yield runs
    release.set()
    _join_left_behind()
    assert left_running() == 0


def test_a_guided_full_model_past_its_limit_leaves_the_restricted_answer(full_model_overruns):
    # dear's 1,200 stands, feasible, against the LP bound, and the call returns about when
    # its time limit says.
    req = _two_offer_request()
    began = time.perf_counter()
    result = allocate(req, EngineTuning(guide_min_integers=GUIDED.guide_min_integers, time_limit_s=1.0))
    elapsed = time.perf_counter() - began
    assert full_model_overruns == ["relaxation", "restricted", "full"]  # the full MIP left behind
    assert left_running() == 1
    assert result.status is Status.FEASIBLE
    assert result.total_spend == pytest.approx(1_200.0)
    assert result.best_bound == pytest.approx(1_050.0)
    assert check_result(req, result) == []
    assert elapsed < 1.0 + OVERRUN_S + 1.0  # not the 30 s the run is held for


def test_a_worker_that_left_a_run_behind_answers_then_exits(full_model_overruns):
    # The run left behind holds a core and its memory: the worker sends its answer, then
    # exits instead of taking the next job, and the run ends with it.
    req = _two_offer_request()
    kind, result, recycle, said = _worker_job(req)
    assert said == [("retiring", None)]  # before the answer
    assert (kind, recycle) == ("ok", True)
    assert result.total_spend == pytest.approx(1_200.0) and check_result(req, result) == []


def test_a_worker_whose_failed_job_left_a_run_behind_exits_too(full_model_overruns, monkeypatch):
    def fails(request, options, on_provisional=None, budget=None):
        allocate(request, options, budget=budget)  # leaves the full run behind
        raise SolverFailed("HiGHS failed")

    monkeypatch.setattr(worker_module, "allocate", fails)
    kind, message, recycle, said = _worker_job(_two_offer_request())
    assert said == [("retiring", None)]
    assert (kind, message, recycle) == ("engine", "HiGHS failed", True)


def _worker_job(req):
    """One job through the worker's ``_run``: (reply kind, reply value, recycle, messages sent before it)."""
    # No provisional answers (1 s limit): only what the test is about goes ahead of the reply.
    options = EngineTuning(guide_min_integers=GUIDED.guide_min_integers, provisional_after_s=60.0)
    ours, theirs = multiprocessing.Pipe(duplex=True)
    reply, recycle = worker_module._run(pickle.dumps(Job(req, options, TimeBudget.start(1.0))), theirs)
    said = []
    while ours.poll():
        said.append(pickle.loads(ours.recv_bytes()))
    kind, value = pickle.loads(reply)
    return kind, value, recycle, said
