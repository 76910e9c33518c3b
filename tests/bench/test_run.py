"""bench.run: a benchmark stopped with SIGTERM takes its server and the server's workers with it;
a contender's summary keeps every repetition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from bench.instances import ROOT
from bench.run import _tree, summarise
from tests.reliability.conftest import ended, wait_until


def test_a_terminated_run_leaves_no_process_behind() -> None:
    run = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--only", "dla-2025", "--contenders", "http", "--reps", "100000"],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert run.stdout is not None
        for line in run.stdout:  # the server is up and solving once a repetition is done
            if "rep 1/" in line:
                break
        under = _tree(run.pid)[1:]
        assert len(under) >= 2, "a server and its workers"
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 128 + signal.SIGTERM
        wait_until(lambda: all(map(ended, under)), timeout=20)
    finally:
        run.kill()
        run.wait()


def test_summarise_keeps_each_repetitions_solver_time_beside_its_wall_time() -> None:
    runs = [
        {"seconds": s, "run_seconds": r, "status": "optimal", "score": 1.0, "spend": 2.0, "violations": []}
        for s, r in [(1.0, 0.9), (2.0, 1.5), (3.0, 2.9)]
    ]
    out = summarise(runs, peak=10.0)
    assert out["all_s"] == [1.0, 2.0, 3.0]
    assert out["all_solver_s"] == [0.9, 1.5, 2.9]
    assert out["median_overhead_s"] == pytest.approx(0.1)  # of 0.1, 0.5, 0.1: not median wall - median solver
