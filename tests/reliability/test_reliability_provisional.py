"""A solve stopped before its answer still returns its last provisional allocation.

Each link of the chain is tested on its own, deterministically: the worker sends
``allocate``'s provisional answers over its pipe, the pool keeps the last one whatever
ends the job, and the gateway answers with it when the worker was killed or died.
(``tests/test_provisional.py`` tests that the engine reports them.)
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
from service.pool import JobEnd, Outcome, Worker, _exchange
from service.settings import Settings
from service.solving import PoolGateway
from solvers import SolverOptions, allocate, check_result
from tests.builders import mineral, offer, request


def _two_stage_request() -> AllocationRequest:
    return request(10_000, [mineral(target=50)], [offer("dear", 20, 500), offer("cheap", 10, 500)])


# -- the worker ------------------------------------------------------------------------------


def test_the_worker_sends_provisional_answers_before_its_reply():
    req = _two_stage_request()
    ours, theirs = multiprocessing.Pipe(duplex=True)
    job = pickle.dumps((req, SolverOptions(provisional_after_s=0.0)))
    reply, recycle = worker_module._run(job, theirs)
    kind, provisional = pickle.loads(ours.recv_bytes())
    assert not ours.poll()  # one provisional answer: stage one's
    kind_final, final = pickle.loads(reply)
    assert (kind, kind_final, recycle) == ("provisional", "ok", False)
    assert provisional.status is Status.FEASIBLE and check_result(req, provisional) == []
    assert final.status is Status.OPTIMAL and final.total_spend <= provisional.total_spend


# -- the pool --------------------------------------------------------------------------------


def _fake_worker(conn, then: str) -> None:
    """Take one job, send two provisional answers, then answer, die, or block until killed."""
    conn.recv_bytes()
    for answer in ("first", "second"):
        conn.send_bytes(pickle.dumps(("provisional", answer)))
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
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=True)
    process = ctx.Process(target=_fake_worker, args=(child, then), daemon=True)
    process.start()
    child.close()
    worker = Worker(process=process, conn=parent, pid=process.pid)
    try:
        end = _exchange(worker, ("job", None), time.monotonic() + 0.3)
    finally:
        worker.kill()
    assert end == JobEnd(outcome, value, "second")


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
    allocate(req, SolverOptions(provisional_after_s=0.0), on_provisional=seen.append)
    return req, seen[-1]


@pytest.mark.parametrize(
    ("outcome", "value", "code", "restart"),
    [(Outcome.DEADLINE, None, "deadline_exceeded", "deadline"), (Outcome.CRASHED, -9, "solve_interrupted", "crash")],
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


def test_without_a_provisional_answer_a_stopped_solve_has_no_allocation_or_gets_503(provisional):
    req, _ = provisional
    result, _ = _gateway_answer(JobEnd(Outcome.DEADLINE, None, None), req)
    assert result.status is Status.NO_SOLUTION and result.allocations == []
    with pytest.raises(ServiceUnavailable):
        _gateway_answer(JobEnd(Outcome.CRASHED, -9, None), req)
