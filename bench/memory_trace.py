"""Resident memory through one engine solve, phase by phase: where the peak comes from.

    python -m bench.memory_trace 200x250-max_coverage
    python -m bench.memory_trace 40x250-min_cost --interval 0.1

Solves the case once in this process (no warm-up: the interpreter's own memory is
part of the figures, as in the benchmark's peak) while a thread samples the process's
resident set (VmRSS) every INTERVAL seconds. Prints each phase of ``allocate`` as it
starts and ends (``create_model``, ``compile_model``, every HiGHS run), with the
resident memory then and the most seen while it ran, and finally the peak (VmHWM).
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between samples")
    args = parser.parse_args(argv)

    import highspy

    from bench.instances import named
    from solvers import engine

    try:
        request = named(args.case).request
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    began = time.perf_counter()
    high = [0]  # the most resident memory (kB) seen since the current phase began
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(args.interval):
            high[0] = max(high[0], _status_kb("VmRSS:"))

    def event(text: str) -> None:
        rss = _status_kb("VmRSS:")
        most = max(high[0], rss) / 1024
        print(f"{time.perf_counter() - began:8.2f} s  {rss / 1024:7.0f} MB  (most {most:5.0f})  {text}", flush=True)
        high[0] = rss

    def traced(name: str, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            event(f"{name} starts")
            try:
                return fn(*a, **k)
            finally:
                event(f"{name} ends")

        return wrapper

    for name in ("prepare", "create_model", "compile_model", "build_result", "check_result"):
        setattr(engine, name, traced(name, getattr(engine, name)))
    highspy.Highs.run = traced("HiGHS run", highspy.Highs.run)
    threading.Thread(target=sample, daemon=True).start()
    event("start")
    result = engine.allocate(request)
    event(f"allocate returned: {result.status.value}")
    stop.set()
    print(f"peak resident memory (VmHWM): {_status_kb('VmHWM:') / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
