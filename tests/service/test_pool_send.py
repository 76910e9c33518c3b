"""Handing a job to a worker is bounded by the hard deadline (``service.pool._send_by``).

The worker here is a fake: its pipe's ``send_bytes`` takes the job, or waits (as a real
send of a large job waits on a worker that does not read) until the process is killed.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from types import SimpleNamespace
from typing import ClassVar

import pytest

from service import pool
from service.pool import Worker, _send_by

LARGE = b"x" * (pool._SENT_AT_ONCE + 1)
SMALL = b"x" * pool._SENT_AT_ONCE


class FakeConn:
    """``reads``: the job is taken at once; ``stuck``: the send waits until the process is
    killed, then fails with a broken pipe; ``slow``: it waits until then, and succeeds."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.killed = threading.Event()
        self.sent: list[bytes] = []

    def fileno(self) -> int:
        raise OSError("handle is closed")  # nothing to shut down (service.pool._shut_down)

    def send_bytes(self, payload: bytes) -> None:
        if self.behaviour != "reads":
            assert self.killed.wait(30), "the worker was never killed"
            if self.behaviour == "stuck":
                raise BrokenPipeError(32, "Broken pipe")
        self.sent.append(payload)


class FakeProcess:
    def __init__(self, conn: FakeConn) -> None:
        self.conn, self.kills = conn, 0

    def kill(self) -> None:
        self.kills += 1
        self.conn.killed.set()


def fake_worker(behaviour: str) -> Worker:
    conn = FakeConn(behaviour)
    return Worker(process=FakeProcess(conn), conn=conn, pid=0)


def test_a_worker_that_does_not_take_a_large_job_is_killed_at_the_deadline():
    worker = fake_worker("stuck")
    began = time.monotonic()
    assert _send_by(worker, LARGE, deadline=began + 0.2) is False
    assert time.monotonic() - began >= 0.2  # not before the deadline
    assert worker.process.kills == 1


def test_a_send_that_ends_as_the_worker_is_killed_counts_as_the_deadline():
    # The timer fired and killed the worker, and the send still went through: the worker is
    # gone, so the job is not running, and the caller must answer as at the deadline.
    worker = fake_worker("slow")
    assert _send_by(worker, LARGE, deadline=time.monotonic() + 0.1) is False
    assert worker.process.kills == 1


def test_a_large_job_taken_in_time_leaves_the_worker_alone():
    worker = fake_worker("reads")
    assert _send_by(worker, LARGE, deadline=time.monotonic() + 30) is True
    assert worker.conn.sent == [LARGE]
    assert worker.process.kills == 0


class LateTimer:
    """A timer whose cancel comes too late: the test fires it by hand after the send."""

    made: ClassVar[list[LateTimer]] = []

    def __init__(self, interval: float, function) -> None:
        self.function, self.daemon = function, False
        LateTimer.made.append(self)

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        pass


def test_a_timer_that_fires_after_the_send_ended_kills_nothing(monkeypatch):
    LateTimer.made.clear()
    monkeypatch.setattr(pool, "threading", SimpleNamespace(Timer=LateTimer, Lock=threading.Lock))
    worker = fake_worker("reads")
    assert _send_by(worker, LARGE, deadline=time.monotonic() + 30) is True
    [timer] = LateTimer.made
    timer.function()  # the deadline, after the job was taken
    assert worker.process.kills == 0


def test_a_small_job_is_sent_without_a_timer(monkeypatch):
    def no_timer(*args, **kwargs):
        raise AssertionError("a job that fits in the socket buffer needs no timer")

    monkeypatch.setattr(pool, "threading", SimpleNamespace(Timer=no_timer, Lock=threading.Lock))
    worker = fake_worker("reads")
    assert _send_by(worker, SMALL, deadline=time.monotonic() - 1.0) is True  # even past the deadline
    assert worker.conn.sent == [SMALL]


def test_a_worker_that_dies_during_the_send_is_a_crash_not_the_deadline():
    class Dying(FakeConn):
        def send_bytes(self, payload: bytes) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    conn = Dying("reads")
    worker = Worker(process=FakeProcess(conn), conn=conn, pid=0)
    with pytest.raises(BrokenPipeError):  # _exchange reads it as the worker's death
        _send_by(worker, LARGE, deadline=time.monotonic() + 30)
    assert worker.process.kills == 0


def test_a_send_blocked_on_a_worker_end_held_elsewhere_still_ends_at_the_deadline():
    # A real socket pair whose other end stays open here, as if another process held the
    # worker's end: killing the worker would not break the send; shutting ours down does.
    ours, theirs = multiprocessing.Pipe(duplex=True)
    with ours, theirs:
        worker = Worker(process=FakeProcess(FakeConn("reads")), conn=ours, pid=0)
        payload = b"x" * (4 * 1024 * 1024)  # far more than the socket holds: the send waits
        began = time.monotonic()
        out: dict[str, object] = {}
        thread = threading.Thread(target=lambda: out.update(sent=_send_by(worker, payload, began + 0.2)), daemon=True)
        thread.start()
        thread.join(30)
        if thread.is_alive():  # still blocked: free the thread, then fail (rather than hang the suite)
            theirs.close()
            thread.join(5)
            pytest.fail("the send was still blocked 30 s after its deadline")
        assert out == {"sent": False}
        assert time.monotonic() - began >= 0.2
        assert worker.process.kills == 1
