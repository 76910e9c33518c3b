"""Stress-test benchmarks, side by side in one run (docs/performance.md, docs/scaling.md).

    .venv/bin/python -m bench.stress [--quick] [--only replan-vs-http,workers,hold,latency,memory]

* ``replan-vs-http``: N replan draws of the DLA disruption example on a local Dask cluster
  of two workers, against a client posting the same N changed requests to
  ``/v1/allocations`` one after another (a server with two solver workers). Target 4x.
* ``workers``: draws per second of two Dask workers against one, on replan draws of the
  100-offer benchmark instance (5 minerals x 20 offers). Target 1.7x.
* ``hold``: 100,000 hold draws of the DLA example in a fresh process: seconds and peak RSS.
  Target 10 s and 500 MB.
* ``latency``: single solves over HTTP alone, and while the same server runs a replan test.
* ``memory``: each Dask worker's process memory (and Dask's own "unmanaged" share) after
  each of several rounds of replan draws.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from analyses.execution import DaskExecutor
from analyses.stress import DrawSpace, stress_test
from bench.instances import named
from bench.load import Server
from models import AllocationRequest
from models.changes import apply_changes
from models.disruptions import DisruptionModel, StressTestRequest
from service import examples

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "stress.json"


def dla() -> tuple[dict, dict]:
    e = examples.catalogue()["dla-2025-disruption"]
    return e["request"], e["disruptions"]


def instance_100() -> tuple[dict, dict]:
    body = named("5x20-max_coverage").body
    countries = sorted({o["country"] for o in body["suppliers"]} - set(body["policy"]["excluded_countries"]))
    model = {
        "countries": {c: (0.3 if c == "CN" else 0.05) for c in countries[:8]},
        "supplier_failure": 0.05,
        "price_shocks": {body["minerals"][0]["id"]: 0.3},
    }
    return body, model


def replan_seconds(body: dict, model: dict, draws: int, executor: Any, seed: int = 1) -> float:
    test = StressTestRequest.model_validate(
        {"request": body, "disruptions": model, "draws": draws, "seed": seed, "mode": "replan"}
    )
    began = time.perf_counter()
    result = stress_test(test, executor)
    assert result.complete
    return time.perf_counter() - began


def bench_replan_vs_http(draws: int) -> dict[str, Any]:
    """Wall and CPU seconds of both (every process of each side): CPU is what a shared machine cannot skew."""
    import psutil

    body, model = dla()
    request = AllocationRequest.model_validate(body)
    space = DrawSpace.of(request, DisruptionModel.model_validate(model))
    changed = [apply_changes(request, c).request.model_dump(mode="json") for c in space.draw_changes(1, 0, draws)]
    executor = DaskExecutor(workers=2)
    client = executor.client()
    try:
        before, here = client.run(_cpu_s), _cpu_s()
        load_dask = os.getloadavg()[0]
        dask_s = replan_seconds(body, model, draws, executor)
        dask_cpu = sum(c - before[w] for w, c in client.run(_cpu_s).items()) + _cpu_s() - here
    finally:
        executor.close()
    server = Server(workers=2)
    try:
        tree = psutil.Process(server.proc.pid)

        def server_cpu() -> float:
            return sum(sum(p.cpu_times()[:2]) for p in [tree, *tree.children(recursive=True)])

        with httpx.Client(base_url=server.url, timeout=120) as c:
            before_server, here = server_cpu(), _cpu_s()
            load_http = os.getloadavg()[0]
            began = time.perf_counter()
            for b in changed:
                assert c.post("/v1/allocations", json=b).status_code == 200
            http_s = time.perf_counter() - began
            http_cpu = server_cpu() - before_server + _cpu_s() - here
    finally:
        server.stop()
    return {
        "draws": draws,
        "dask_2_workers_s": round(dask_s, 2),
        "http_one_by_one_s": round(http_s, 2),
        "ratio": round(http_s / dask_s, 2),
        # CPU of the Dask workers and this process (driver, scheduler), against the server's
        # processes and this client's: what the ratio is on a machine shared with other work
        "dask_cpu_s": round(dask_cpu, 2),
        "http_cpu_s": round(http_cpu, 2),
        "cpu_ratio": round(http_cpu / dask_cpu, 2),
        "load_average": [round(load_dask, 1), round(load_http, 1)],
    }


def _cpu_s() -> float:
    """This process's CPU seconds (user and system): run on each Dask worker, and here."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def replan_profiled(body: dict, model: dict, draws: int, workers: int, seed: int = 1) -> dict[str, Any]:
    """A replan test on a fresh cluster of ``workers``, with what each worker did: load-insensitive figures.

    Per worker: tasks, busy seconds (sum of its tasks' wall time, from Dask's task stream),
    CPU seconds of its process over the test, and idle seconds (the test's wall time less
    its busy time: waiting for tasks, and the tail). ``cpu_per_draw_ms`` sums the
    workers' CPU; ``cpu_bound_speedup`` (two workers only, filled by the caller) is what
    the draws per second would be at full cores: the one-worker CPU over the busiest
    worker's CPU.
    """
    from distributed import get_task_stream

    from analyses.stress import chunk_size

    executor = DaskExecutor(workers=workers)
    client = executor.client()
    try:
        cpu_before = client.run(_cpu_s)
        here_before = _cpu_s()
        load_before = os.getloadavg()[0]
        with get_task_stream(client) as stream:
            seconds = replan_seconds(body, model, draws, executor, seed)
        here_cpu = _cpu_s() - here_before
        cpu = {w: c - cpu_before[w] for w, c in client.run(_cpu_s).items()}
        tasks = [t for t in stream.data if str(t.get("key", "")).count("run_watched")]
    finally:
        executor.close()
    per_worker = []
    for k, (address, seconds_cpu) in enumerate(sorted(cpu.items())):
        mine = [t for t in tasks if t["worker"] == address]
        busy = sum(s["stop"] - s["start"] for t in mine for s in t["startstops"] if s["action"] == "compute")
        per_worker.append(
            {
                "worker": k,
                "tasks": len(mine),
                "busy_s": round(busy, 2),
                "idle_s": round(seconds - busy, 2),
                "cpu_s": round(seconds_cpu, 2),
            }
        )
    total_cpu = sum(w["cpu_s"] for w in per_worker)
    return {
        "workers": workers,
        "seconds": round(seconds, 2),
        "draws_per_s": round(draws / seconds, 3),
        "chunk_size": chunk_size(draws),
        "tasks": len(tasks),
        "in_flight": 2 * workers,
        "per_worker": per_worker,
        "workers_cpu_s": round(total_cpu, 2),
        "cpu_per_draw_ms": round(1000 * total_cpu / draws, 1),
        "driver_and_scheduler_cpu_s": round(here_cpu, 2),
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def bench_workers(draws: int) -> dict[str, Any]:
    body, model = instance_100()
    runs = [replan_profiled(body, model, draws, workers) for workers in (1, 2)]
    one, two = runs
    return {
        "draws": draws,
        "instance": "5x20-max_coverage (100 offers)",
        "runs": runs,
        "speedup": round(two["draws_per_s"] / one["draws_per_s"], 2),
        # at full cores each worker runs at the speed of its CPU: the busiest worker's CPU bounds the test
        "cpu_bound_speedup": round(one["workers_cpu_s"] / max(w["cpu_s"] for w in two["per_worker"]), 2),
    }


HOLD_CHILD = """
import json, resource, sys, time
from service import examples
from models.disruptions import StressTestRequest
from analyses.stress import stress_test
from solvers import allocate
e = examples.catalogue()["dla-2025-disruption"]
test = StressTestRequest.model_validate({"request": e["request"], "disruptions": e["disruptions"],
                                         "draws": int(sys.argv[1]), "seed": 3, "mode": "hold"})
base = allocate(test.request)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
began = time.perf_counter()
result = stress_test(test, base=base)
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds, "done": result.done, "rss_before_mb": before / 1024,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_hold(draws: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", HOLD_CHILD, str(draws)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return {"draws": draws, **json.loads(done.stdout)}


def bench_latency(solves: int, draws: int) -> dict[str, Any]:
    body, model = dla()
    server = Server(workers=1, dask_workers=1)
    out: dict[str, Any] = {"solves": solves, "server": "1 solver worker + 1 Dask worker", "stress_draws": draws}
    try:
        with httpx.Client(base_url=server.url, timeout=300) as c:
            # the stress routes' cluster starts at first use: start it before measuring
            c.post("/v1/stress-tests", json={"request": body, "disruptions": model, "draws": 8, "mode": "replan"})
            out["alone_ms"] = _solve_ms(c, body, solves)
            answer: dict[str, Any] = {}
            test = {"request": body, "disruptions": model, "draws": draws, "mode": "replan"}
            thread = threading.Thread(target=lambda: answer.setdefault("r", c.post("/v1/stress-tests", json=test)))
            thread.start()
            out["during_stress_ms"] = _solve_ms(c, body, solves)
            out["stress_still_running"] = thread.is_alive()
            thread.join()
            out["stress_status"] = answer["r"].status_code
    finally:
        server.stop()
    return out


def _solve_ms(c: httpx.Client, body: dict, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        assert c.post("/v1/allocations", json=body).status_code == 200
        times.append(1000 * (time.perf_counter() - began))
    times.sort()
    return {"p50": statistics.median(times), "max": times[-1]}


def bench_memory(rounds: int, draws: int) -> dict[str, Any]:
    body, model = dla()
    executor = DaskExecutor(workers=2)
    client = executor.client()
    samples = []
    try:
        for k in range(rounds):
            replan_seconds(body, model, draws, executor, seed=k)
            info = client.scheduler_info()["workers"]
            client.run(lambda: None)  # (a heartbeat's worth of fresh metrics)
            samples.append(
                {
                    "after_draws": (k + 1) * draws,
                    "rss_mb": [round(w["metrics"]["memory"] / 2**20, 1) for w in info.values()],
                    "unmanaged_mb": [
                        round((w["metrics"]["memory"] - w["metrics"]["managed_bytes"]) / 2**20, 1)
                        for w in info.values()
                    ],
                }
            )
    finally:
        executor.close()
    return {"draws_per_round": draws, "rounds": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer draws (a smoke run, not the targets)")
    parser.add_argument("--only", default="replan-vs-http,workers,hold,latency,memory")
    parser.add_argument("--draws", type=int, help="draws for replan-vs-http and workers (default: the targets')")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    q = args.quick
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (shared with other work)",
    }
    if "hold" in only:
        results["hold"] = bench_hold(100_000)
        print(json.dumps({"hold": results["hold"]}), flush=True)
    if "replan-vs-http" in only:
        results["replan_vs_http"] = bench_replan_vs_http(args.draws or (100 if q else 1000))
        print(json.dumps({"replan_vs_http": results["replan_vs_http"]}), flush=True)
    if "workers" in only:
        results["workers"] = bench_workers(args.draws or (200 if q else 2000))
        print(json.dumps({"workers": results["workers"]}), flush=True)
    if "latency" in only:
        results["latency"] = bench_latency(10 if q else 30, 300 if q else 600)
        print(json.dumps({"latency": results["latency"]}), flush=True)
    if "memory" in only:
        results["memory"] = bench_memory(3 if q else 8, 200 if q else 500)
        print(json.dumps({"memory": results["memory"]}), flush=True)
    results["load_average_at_end"] = os.getloadavg()[0]
    results["max_child_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    OUT.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(OUT.read_text()) if OUT.exists() else {}  # the benchmarks not run this time stay
    OUT.write_text(json.dumps({**kept, **results}, indent=2) + "\n")
    print(f"written {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
