"""A solve stopped before its answer still returns its last provisional allocation.

Each link of the chain is tested on its own, deterministically: the worker sends
``allocate``'s provisional answers over its pipe, the pool keeps the last one whatever
ends the job, and the gateway answers with it when the worker was killed or died.
(``tests/solvers/test_provisional.py`` tests that the engine reports them.)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import time
from collections import Counter
from typing import Any

import pytest

from models import AllocationRequest, Status
from service import worker as worker_module
from service.errors import ServiceUnavailable
from service.pool import MIN_SOLVE_S, Job, JobEnd, Outcome, Worker, _exchange
from service.settings import Settings
from service.solving import PoolGateway
from solvers import EngineTuning, TimeBudget, allocate, check_result
from tests.builders import mineral, offer, request


def _two_stage_request() -> AllocationRequest:
    return request(10_000, [mineral(target=50)], [offer("dear", 20, 500), offer("cheap", 10, 500)])


# -- the worker ------------------------------------------------------------------------------


def test_the_worker_sends_provisional_answers_before_its_reply():
    req = _two_stage_request()
    ours, theirs = multiprocessing.Pipe(duplex=True)
    job = pickle.dumps(Job(req, EngineTuning(provisional_after_s=0.0), TimeBudget.start(30.0)))
    reply, recycle = worker_module._run(job, theirs)
    kind, provisional = pickle.loads(ours.recv_bytes())
    assert not ours.poll()  # one provisional answer: stage one's
    kind_final, final = pickle.loads(reply)
    assert (kind, kind_final, recycle) == ("provisional", "ok", False)
    assert provisional.status is Status.FEASIBLE and check_result(req, provisional) == []
    assert final.status is Status.OPTIMAL and final.total_spend <= provisional.total_spend


def _due(at: float) -> TimeBudget:
    """A budget whose deadline is ``at`` (``time.monotonic()``)."""
    return TimeBudget(30.0, at - 30.0)


def test_a_job_gets_the_time_left_until_it_is_due():
    # The time a job took to reach its worker is spent: HiGHS gets what is left until ``due``.
    job = Job("request", EngineTuning(), _due(time.monotonic() + 5.0))
    assert 4.0 < job.budget_now().limit_s <= 5.0
    assert job.budget_now().deadline <= job.due
    late = Job("request", EngineTuning(), _due(time.monotonic() - 1.0))
    assert late.budget_now().limit_s == MIN_SOLVE_S


# -- the pool --------------------------------------------------------------------------------


def _fake_worker(conn, then: str, sent=None) -> None:
    """Take one job, send two provisional answers, then answer, die, or block until killed.

    ``late``: answer 2 s after the job's ``due``, before the hard deadline; ``queued``: all
    three messages are in the pipe (``sent`` is set) before the job is read.
    """
    if then == "queued":
        for kind, answer in (("provisional", "first"), ("provisional", "second"), ("ok", "final")):
            conn.send_bytes(pickle.dumps((kind, answer)))
        sent.set()
        conn.recv_bytes()
        conn.recv_bytes()  # until the parent closes the pipe
        return
    job = pickle.loads(conn.recv_bytes())
    if then == "late-provisional":  # a build longer than the limit: the first answer comes past overtime
        time.sleep(max(job.due - time.monotonic(), 0) + 1.5)
        conn.send_bytes(pickle.dumps(("provisional", "late")))
        time.sleep(0.05)
        conn.send_bytes(pickle.dumps(("ok", "final")))
        conn.recv_bytes()  # until the parent closes the pipe
        return
    if then == "retire":
        conn.send_bytes(pickle.dumps(("retiring", None)))
        conn.send_bytes(pickle.dumps(("ok", "final")))
        return
    if then == "block-silent":
        conn.recv_bytes()  # no provisional answer: blocked until killed at the hard deadline
    for answer in ("first", "second"):
        conn.send_bytes(pickle.dumps(("provisional", answer)))
    if then in ("late", "late-a-little"):
        time.sleep(max(job.due - time.monotonic(), 0) + (2.0 if then == "late" else 0.1))
        then = "answer"
    if then == "answer":
        conn.send_bytes(pickle.dumps(("ok", "final")))
        conn.recv_bytes()  # until the parent closes the pipe
    elif then == "garble":
        conn.send_bytes(b"not a pickle")
        conn.recv_bytes()  # until the parent kills it
    elif then == "die":
        os._exit(3)
    else:
        conn.recv_bytes()  # the parent sends nothing more: blocked until killed at the deadline


@pytest.mark.parametrize(
    ("then", "outcome", "value"),
    [
        ("answer", Outcome.OK, "final"),
        ("die", Outcome.CRASHED, 3),
        ("garble", Outcome.CRASHED, -9),  # an unreadable message: the worker is killed, as if it had died
        ("block", Outcome.DEADLINE, None),
    ],
)
def test_the_pool_keeps_the_last_provisional_answer_whatever_ends_the_job(then, outcome, value):
    # No time limit of its own before the hard deadline: only these ends are possible.
    end = _run_fake(then, due_in=30.0, deadline_in=0.3)
    assert end == JobEnd(outcome, value, "second")


def _run_fake(then: str, due_in: float, deadline_in: float) -> JobEnd:
    """One job on a real process running ``_fake_worker``; ``due`` and the hard deadline from now."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=True)
    sent = ctx.Event()
    process = ctx.Process(target=_fake_worker, args=(child, then, sent), daemon=True)
    process.start()
    child.close()
    worker = Worker(process=process, conn=parent, pid=process.pid)
    if then == "queued":
        assert sent.wait(10)
    now = time.monotonic()
    try:
        return _exchange(worker, Job("request", "options", _due(now + due_in)), now + deadline_in)
    finally:
        worker.kill()


def test_past_its_time_limit_a_job_with_a_provisional_answer_ends_there():
    began = time.monotonic()
    end = _run_fake("late", due_in=0.3, deadline_in=30.0)
    # Stopped OVERTIME_AFTER_S past ``due`` with the answer in hand: not at the hard deadline,
    # and before its answer came (2 s after ``due``).
    assert end == JobEnd(Outcome.OVERTIME, None, "second")
    assert time.monotonic() - began < 0.3 + 2.0


def test_a_provisional_answer_that_comes_late_still_leaves_the_solve_its_time():
    end = _run_fake("late-provisional", due_in=0.2, deadline_in=30.0)
    assert end == JobEnd(Outcome.OK, "final", "late")


def test_a_solve_a_little_late_is_waited_for():
    end = _run_fake("late-a-little", due_in=0.3, deadline_in=30.0)
    assert end == JobEnd(Outcome.OK, "final", "second")


def test_an_answer_already_sent_is_read_even_past_the_time_limit():
    end = _run_fake("queued", due_in=-5.0, deadline_in=30.0)
    assert end == JobEnd(Outcome.OK, "final", "second")


def test_a_worker_that_says_it_exits_after_its_answer_is_marked_retiring():
    end = _run_fake("retire", due_in=30.0, deadline_in=30.0)
    assert end == JobEnd(Outcome.OK, "final", None, retiring=True)


def test_without_a_provisional_answer_a_job_runs_on_past_its_time_limit():
    end = _run_fake("block-silent", due_in=0.0, deadline_in=0.5)
    assert end == JobEnd(Outcome.DEADLINE, None, None)


# -- the gateway -----------------------------------------------------------------------------


class _OnePool:
    """A stand-in for ``WorkerPool`` whose one job ends as ``end`` says."""

    def __init__(self, end: JobEnd) -> None:
        self.end = end
        self.restarts: Counter[str] = Counter()
        self.released = 0

    def start(self) -> None: ...

    def live(self) -> int:
        return 1

    def idle(self) -> int:
        return 1

    async def acquire(self) -> str:
        return "worker"

    def release(self, worker: Any) -> None:
        self.released += 1

    def discard(self, worker: Any, reason: str) -> None:
        self.restarts[reason] += 1

    async def run(self, worker: Any, job: Any, deadline: float) -> JobEnd:
        return self.end


def _gateway_answer(end: JobEnd, req: AllocationRequest):
    gateway = PoolGateway(Settings(workers=1))
    gateway._pool = _OnePool(end)

    async def go():
        await gateway.start()
        return await gateway.solve(req)

    return asyncio.run(go()), gateway


@pytest.fixture(scope="module")
def provisional():
    req = _two_stage_request()
    seen = []
    allocate(req, EngineTuning(provisional_after_s=0.0), on_provisional=seen.append)
    return req, seen[-1]


@pytest.mark.parametrize(
    ("outcome", "value", "code", "restart"),
    [
        (Outcome.DEADLINE, None, "deadline_exceeded", "deadline"),
        (Outcome.OVERTIME, None, "deadline_exceeded", "overtime"),
        (Outcome.CRASHED, -9, "solve_interrupted", "crash"),
    ],
)
def test_a_stopped_solve_is_answered_with_its_last_provisional_allocation(provisional, outcome, value, code, restart):
    req, answer = provisional
    result, gateway = _gateway_answer(JobEnd(outcome, value, answer), req)
    assert result.status is Status.FEASIBLE
    assert check_result(req, result) == []
    assert result.allocations == answer.allocations
    assert result.diagnostics[0].code == code
    assert "last allocation it had found and checked" in result.diagnostics[0].message
    assert result.diagnostics[1:] == answer.diagnostics
    assert gateway.stats().restarts == {restart: 1}


@pytest.mark.parametrize(
    ("outcome", "value", "words"),
    [(Outcome.ENGINE, "HiGHS failed: error", "solver failed"), (Outcome.MEMORY, "too big", "memory cap")],
)
def test_a_failed_solve_with_a_provisional_allocation_answers_with_it(provisional, outcome, value, words):
    req, answer = provisional
    result, _ = _gateway_answer(JobEnd(outcome, value, answer), req)
    assert result.status is Status.FEASIBLE and result.allocations == answer.allocations
    assert result.diagnostics[0].code == "solve_interrupted" and words in result.diagnostics[0].message


def test_a_retiring_worker_is_replaced_after_its_answer(provisional):
    # Its solve left a HiGHS run going past the limit: the answer stands, the worker is not reused.
    req, answer = provisional
    result, gateway = _gateway_answer(JobEnd(Outcome.OK, answer, None, retiring=True), req)
    assert result == answer
    assert gateway.stats().restarts == {"overrun": 1} and gateway._pool.released == 0


def test_without_a_provisional_answer_a_stopped_solve_has_no_allocation_or_gets_503(provisional):
    req, _ = provisional
    result, _ = _gateway_answer(JobEnd(Outcome.DEADLINE, None, None), req)
    assert result.status is Status.NO_SOLUTION and result.allocations == []
    with pytest.raises(ServiceUnavailable):
        _gateway_answer(JobEnd(Outcome.CRASHED, -9, None), req)
