"""What-if speed over HTTP: frontiers and comparisons against one solve, side by side in one run.

    .venv/bin/python -m bench.whatif [--reps 7] [--seeds 1,2,3] [--out bench/results/whatif.json]

Starts ``stockpile serve`` on a free loopback port (default settings: the solve pool and a
local Dask cluster, one process per CPU each), warms both, then times, for the DLA example
and the 500-offer instance (``10x50-max_coverage``) of each seed:

* one solve, ``POST /v1/allocations``;
* a 21-point budget frontier (10% to 200% of the budget), ``POST /v1/frontiers``;
* a 10-variant comparison (budget, tariff, exclusion, price and capacity changes),
  ``POST /v1/comparisons`` (DLA only).

Each time is the median of ``--reps`` calls; a ratio is the analysis's median over the one
solve's. Targets (docs/performance.md): DLA frontier <= 6x, 500-offer frontier <= 8x, DLA comparison
<= 4x; the 500-offer ratio is judged by its geometric mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.instances import dla_case, named

TARGETS = {"dla frontier": 6.0, "500-offer frontier": 8.0, "dla comparison": 4.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frontier_body(request: dict[str, Any]) -> dict[str, Any]:
    budget = request["budget"]
    return {"request": request, "from": 0.1 * budget, "to": 2.0 * budget, "points": 21}


def comparison_body(request: dict[str, Any]) -> dict[str, Any]:
    minerals = [m["id"] for m in request["minerals"]]
    changes = [
        [{"op": "scale_budget", "factor": 0.8}],
        [{"op": "scale_budget", "factor": 1.2}],
        [{"op": "set_tariff", "country": "CN", "rate": 0}],
        [{"op": "exclude_countries", "countries": ["CN"]}],
        [{"op": "scale_prices", "factor": 1.3, "mineral": minerals[0]}],
        [{"op": "scale_prices", "factor": 0.8, "mineral": minerals[-1]}],
        [{"op": "scale_capacity", "factor": 0.5, "mineral": minerals[1]}],
        [{"op": "scale_capacity", "factor": 0.0, "country": "CN"}],
        [{"op": "set_mineral", "mineral": minerals[2], "field": "target", "value": 1.0}],
        [{"op": "set_policy", "field": "country_caps", "value": None}],
    ]
    variants = [{"name": f"v{k}", "changes": c} for k, c in enumerate(changes)]
    return {"request": request, "variants": variants}


def _median_s(client: httpx.Client, path: str, body: dict[str, Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        began = time.perf_counter()
        response = client.post(path, json=body)
        times.append(time.perf_counter() - began)
        response.raise_for_status()
    return statistics.median(times)


def measure(client: httpx.Client, name: str, request: dict[str, Any], reps: int, comparison: bool) -> dict[str, float]:
    for path, body in (("/v1/allocations", request), ("/v1/frontiers", frontier_body(request))):
        client.post(path, json=body).raise_for_status()  # warm: the instance's first build on each process
    out = {
        "one_solve_s": _median_s(client, "/v1/allocations", request, reps),
        "frontier_s": _median_s(client, "/v1/frontiers", frontier_body(request), reps),
    }
    if comparison:
        out["comparison_s"] = _median_s(client, "/v1/comparisons", comparison_body(request), reps)
    out["frontier_ratio"] = out["frontier_s"] / out["one_solve_s"]
    if comparison:
        out["comparison_ratio"] = out["comparison_s"] / out["one_solve_s"]
    print(name, json.dumps({k: round(v, 4) for k, v in out.items()}), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.whatif", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--out", default="bench/results/whatif.json")
    args = parser.parse_args(argv)
    port = _free_port()
    env = {**os.environ, "STOCKPILE_LOG_LEVEL": "warning"}
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    results: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server never became ready")
                time.sleep(0.2)
            dla = dla_case().body
            results["dla"] = measure(client, "dla", dla, args.reps, comparison=True)
            for seed in [int(s) for s in args.seeds.split(",")]:
                case = named("10x50-max_coverage", seed)
                results[f"10x50-seed{seed}"] = measure(client, case.name + f" seed {seed}", case.body, args.reps, False)
    finally:
        server.terminate()
        server.wait(timeout=60)
    ratios500 = [v["frontier_ratio"] for k, v in results.items() if k.startswith("10x50")]
    verdict = {
        "dla frontier": results["dla"]["frontier_ratio"],
        "dla comparison": results["dla"]["comparison_ratio"],
        "500-offer frontier": math.exp(sum(math.log(r) for r in ratios500) / len(ratios500)),
    }
    for what, ratio in verdict.items():
        target = TARGETS[what]
        print(f"{what}: {ratio:.2f}x one solve (target <= {target:g}x): {'met' if ratio <= target else 'NOT met'}")
    Path(args.out).write_text(json.dumps({"results": results, "verdict": verdict}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
