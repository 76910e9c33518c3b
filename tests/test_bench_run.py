"""bench.run: a benchmark stopped with SIGTERM takes its server and the server's workers with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from bench.instances import ROOT
from bench.run import _tree
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
