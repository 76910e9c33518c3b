"""Where one engine solve spends its time, phase by phase: medians over repeated solves.

    python -m bench.phases 10x50-min_cost 7
    python -m bench.phases dla-2025 31 --tree /tmp/old    # the same, for another checkout

CASE is a name from ``bench.instances.suite()`` (dla-2025, 5x20-min_cost, 10x50-max_coverage,
..., 40x250-min_cost); REPS solves follow one warm-up. Each phase is the wall time of the
engine's own call (``prepare``, ``create_model``, ``compile_model``, ``solution``, ...,
summed when called more than once), ``HiGHS run`` the time inside ``Highs.run``, and
``outside HiGHS`` the whole call less that: the issue's "engine overhead".

``--tree DIR`` imports the engine from another checkout (a ``git worktree`` of an older
commit, say), so that two versions are timed by the same script; phases a version does
not have are left out.

The process keeps the memory a solve frees, as the service's solver workers do
(``service.allocator.keep_freed_memory``); ``--glibc-defaults`` leaves glibc's own settings.
As in a worker, the garbage collector is off during the solves, and collects between
them, untimed (as ``service.worker.collect_between_jobs`` sets a worker up).
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import sys
import time

PHASES = (
    "prepare",
    "create_model",
    "compile_model",
    "column_offers",
    "cheapest_offers",
    "load_values",
    "solution",
    "quantities",
    "build_result",
    "check_result",
    "solved_findings",
    "release",
)
# Inside each HiGHS solve call, outside ``run``: handing the model and options over, reading the answer.
SOLVE_PHASES = ("load", "_outcome")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case")
    parser.add_argument("reps", type=int, nargs="?", default=7)
    parser.add_argument("--tree", default=None, help="import models/ and solvers/ from this checkout")
    parser.add_argument("--seed", type=int, default=1, help="the generated instance's seed (default 1)")
    parser.add_argument("--glibc-defaults", action="store_true", help="do not keep freed memory as a worker does")
    args = parser.parse_args(argv)
    if not args.glibc_defaults:  # from this checkout, before --tree's: an older one may not have it
        from service.allocator import keep_freed_memory

        keep_freed_memory()
    if args.tree:
        sys.path.insert(0, args.tree)
    import highspy

    from bench.instances import named
    from solvers import engine, highs

    try:
        request = named(args.case, args.seed).request
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    spent: dict[str, float] = {}

    def timed(name: str, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    for name in PHASES:
        if hasattr(engine, name):
            setattr(engine, name, timed(name, getattr(engine, name)))
    for name in SOLVE_PHASES:
        if hasattr(highs, name):
            setattr(highs, name, timed(f"HiGHS {name.strip('_')}", getattr(highs, name)))
    highspy.Highs.run = timed("HiGHS run", highspy.Highs.run)

    engine.allocate(request)  # warm-up
    # as service.worker.collect_between_jobs, which cannot be imported here: service.worker
    # imports solvers, and would load this checkout's in place of --tree's
    gc.collect()
    gc.freeze()
    gc.disable()
    runs = []
    for _ in range(args.reps):
        spent.clear()
        began = time.perf_counter()
        engine.allocate(request)
        total = time.perf_counter() - began
        gc.collect()
        runs.append({**spent, "outside HiGHS": total - spent.get("HiGHS run", 0.0), "total": total})
    print(f"{args.case} (seed {args.seed}): median of {args.reps} solves, engine from {engine.__file__}")
    for name in runs[0]:
        ms = 1000 * statistics.median(r.get(name, 0.0) for r in runs)
        print(f"  {name:16s} {ms:10.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
