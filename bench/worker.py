"""One contender in its own process, solving one instance on demand.

    python -m bench.worker engine|highs|pulp REQUEST.json

Loads and validates the request once (untimed), warms up on the DLA example
(imports, first HiGHS instance, CBC start-up), then answers each ``run`` line
on stdin with one JSON line: wall seconds, seconds inside the solver, status,
score and spend recomputed by plain arithmetic, and the rules the allocation
breaks. ``quit`` answers with the process's peak resident memory (VmHWM), so
that every contender's memory is measured on its own, per instance.
"""

from __future__ import annotations

import json
import sys
import time

import highspy

from bench.instances import dla_case
from models import AllocationRequest

_inside = [0.0]
_run = highspy.Highs.run


def _timed_run(self, *args, **kwargs):
    began = time.perf_counter()
    try:
        return _run(self, *args, **kwargs)
    finally:
        _inside[0] += time.perf_counter() - began


highspy.Highs.run = _timed_run  # count the time HiGHS itself spends, whoever calls it


def peak_rss_mb(pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def solve_once(contender: str, request: AllocationRequest) -> dict:
    _inside[0] = 0.0
    if contender == "engine":
        from solvers import allocate, check_result

        began = time.perf_counter()
        result = allocate(request)
        seconds = time.perf_counter() - began
        violations = [str(v) for v in check_result(request, result)]
        return {"seconds": seconds, "run_seconds": _inside[0], "status": result.status.value,
                "score": result.coverage_score, "spend": result.total_spend if result.status.has_allocation else None,
                "violations": violations, "model": result.model.model_dump()}
    module = __import__(f"bench.{contender}_baseline", fromlist=["solve"])
    out = module.solve(request)
    run_seconds = _inside[0] if contender == "highs" else out.run_seconds
    return {"seconds": out.seconds, "run_seconds": run_seconds, "status": out.checked.status,
            "score": out.checked.score, "spend": out.checked.spend, "violations": out.checked.violations,
            "model": out.model}


def main() -> int:
    contender, path = sys.argv[1], sys.argv[2]
    solve_once(contender, dla_case().request)  # warm-up
    with open(path) as f:
        request = AllocationRequest.model_validate_json(f.read())
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            print(json.dumps(solve_once(contender, request)), flush=True)
        elif command == "quit":
            break
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
