"""One contender in its own process, solving one instance on demand.

    python -m bench.worker engine|highs|pulp REQUEST.json

Loads and validates the request once (untimed), warms up on the DLA example
(imports, first HiGHS instance, CBC start-up), then answers each ``run`` line
on stdin with one JSON line: wall seconds, seconds inside the solver, status,
score and spend recomputed by plain arithmetic, and the rules the allocation
breaks. ``quit`` answers with the process's peak resident memory (VmHWM), so
that every contender's memory is measured on its own, per instance.

The engine's process is set up as the service's solver workers are: it keeps the
memory a solve frees for the next (``service.malloc.keep_freed_memory``), and its
garbage collector is off, everything alive after the warm-up frozen, and a collection
made after each answer, untimed, as a worker makes it after sending its answer
(``service.worker.collect_between_jobs``). The baselines run as a plain script would,
with glibc's and Python's defaults (the same memory setting gives the highspy baseline
nothing: its one full MIP runs on memory it allocates once).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

import highspy

from bench.instances import dla_case
from models import AllocationRequest

# [start, end] of every HiGHS run (end None while it runs), from any thread: the engine may
# leave a run that overruns its limit going on a thread of its own (solvers/solve/overrun.py).
_runs: list[list[float | None]] = []
_run = highspy.Highs.run


def _timed_run(self, *args, **kwargs):
    span: list[float | None] = [time.perf_counter(), None]
    _runs.append(span)
    try:
        return _run(self, *args, **kwargs)
    finally:
        span[1] = time.perf_counter()


highspy.Highs.run = _timed_run  # count the time HiGHS itself spends, whoever calls it


def _inside(began: float, ended: float) -> float:
    """Seconds between ``began`` and ``ended`` inside HiGHS runs, then forget every run.

    One solve's runs follow one another; a run it left behind still going is counted until
    ``ended``, and not in the next solve.
    """
    total = 0.0
    for start, end in _runs:
        total += max(0.0, min(ended, end if end is not None else ended) - max(began, start))
    _runs.clear()
    return total


def peak_rss_mb(pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def solve_once(contender: str, request: AllocationRequest) -> dict:
    if contender == "engine":
        from solvers import allocate, check_result

        began = time.perf_counter()
        result = allocate(request)
        ended = time.perf_counter()
        seconds = ended - began
        violations = [str(v) for v in check_result(request, result)]
        return {
            "seconds": seconds,
            "run_seconds": _inside(began, ended),
            "status": result.status.value,
            "score": result.coverage_score,
            "spend": result.total_spend if result.status.has_allocation else None,
            "violations": violations,
            "model": result.model.model_dump(),
        }
    module = __import__(f"bench.{contender}_baseline", fromlist=["solve"])
    began = time.perf_counter()
    out = module.solve(request)
    run_seconds = _inside(began, time.perf_counter()) if contender == "highs" else out.run_seconds
    return {
        "seconds": out.seconds,
        "run_seconds": run_seconds,
        "status": out.checked.status,
        "score": out.checked.score,
        "spend": out.checked.spend,
        "violations": out.checked.violations,
        "model": out.model,
    }


def main() -> int:
    contender, path = sys.argv[1], sys.argv[2]
    if contender == "engine":
        # set up as the service's workers are (the baselines run as a plain script would)
        from service.malloc import keep_freed_memory

        keep_freed_memory()
    solve_once(contender, dla_case().request)  # warm-up
    with open(path) as f:
        request = AllocationRequest.model_validate_json(f.read())
    if contender == "engine":
        from service.worker import collect_between_jobs

        collect_between_jobs()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            print(json.dumps(solve_once(contender, request)), flush=True)
            if contender == "engine":
                gc.collect()  # this solve's garbage, after its answer, as a worker collects it
        elif command == "quit":
            break
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    # At once, not after a HiGHS run the engine left going past its limit (solvers/solve/overrun.py):
    # the interpreter would wait for it at exit, past the runner's patience.
    os._exit(code)
