"""Stress tests on Dask: a LocalCluster of one and of two workers, and a real cluster started here.

The real cluster is what an operator runs: a ``dask scheduler`` and two
``dask worker --nthreads 1`` processes on loopback, found through a scheduler file.
The same seed must give the same answer everywhere, bit for bit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from analyses.execution import DaskExecutor, LocalExecutor
from analyses.stress import DrawSpace, replan_summary, stress_test
from models.disruptions import StressTestRequest
from service import examples
from service.app import create_app
from service.settings import Settings

DASK = str(Path(sys.executable).parent / "dask")


@pytest.fixture(scope="module")
def test() -> StressTestRequest:
    e = examples.catalogue()["dla-2025-disruption"]
    return StressTestRequest.model_validate(
        {"request": e["request"], "disruptions": e["disruptions"], "draws": 96, "seed": 17, "mode": "both"}
    )


@pytest.fixture(scope="module")
def reference(test):
    return stress_test(test, LocalExecutor())


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> Iterator[str]:
    """A scheduler and two single-threaded workers as separate processes on loopback; yields the address."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    common = ["--no-dashboard"]
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(scheduler_file), *common],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=folder,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the dask scheduler did not start"
            assert procs[0].poll() is None, "the dask scheduler exited"
            time.sleep(0.1)
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--name",
                        name,
                        *common,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                    cwd=folder,
                )
            )
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.mark.parametrize("where", ["local-1", "local-2", "remote"])
def test_same_seed_same_answer_bit_for_bit(test, reference, remote, where):
    executor = DaskExecutor(remote) if where == "remote" else DaskExecutor(workers=int(where[-1]))
    try:
        result = stress_test(test, executor)
        assert executor.workers == (2 if where != "local-1" else 1)
    finally:
        executor.close()
    assert result.model_dump_json() == reference.model_dump_json()


def test_a_cancelled_stream_stops_its_tasks(test, remote):
    executor = DaskExecutor(remote)
    try:
        client = executor.client()
        space = DrawSpace.of(test.request, test.disruptions)
        from analyses.execution import Batch

        batches = (
            Batch(test.request, space.draw_changes(1, k, k + 40), summarise=replan_summary) for k in range(0, 4000, 40)
        )
        cancel = threading.Event()
        seen = 0
        for _, answers in executor.stream(batches, cancel=cancel):
            seen += len(answers)
            cancel.set()
        assert seen < 4000
        deadline = time.monotonic() + 30
        while any(client.processing().values()):
            assert time.monotonic() < deadline, "tasks still running after the stream was cancelled"
            time.sleep(0.1)
    finally:
        executor.close()


def test_the_service_runs_on_the_cluster_named_by_the_environment(test, reference, remote, monkeypatch):
    monkeypatch.setenv("STOCKPILE_DASK_SCHEDULER", remote)
    app = create_app(Settings(workers=1))
    with TestClient(app) as client:
        r = client.post("/v1/stress-tests", json=test.model_dump(mode="json"))
        assert r.status_code == 200, r.text
        assert r.json()["replan"] == reference.model_dump(mode="json", exclude_none=True)["replan"]
        assert app.state.analyses.executor.address == remote
        # a single solve is served while a stress test runs
        done: dict = {}
        big = {**test.model_dump(mode="json"), "draws": 200, "mode": "replan"}
        thread = threading.Thread(target=lambda: done.setdefault("r", client.post("/v1/stress-tests", json=big)))
        thread.start()
        solve = client.post("/v1/allocations", json=test.request.model_dump(mode="json"))
        assert solve.status_code == 200, solve.text
        assert thread.is_alive() or done["r"].status_code == 200
        thread.join(timeout=600)
        assert not thread.is_alive()
        assert done["r"].json()["done"] == 200
    assert app.state.analyses.executor._client is None  # closed with the app
