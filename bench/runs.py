"""Every HiGHS run of one engine solve of a guided-size case: which model, the time given, the time taken.

    python -m bench.runs 200x250-max_coverage --seed 3
    python -m bench.runs 40x250-max_coverage --seed 3 --limit 15

One line per run of the guided solve (``solvers/guide.py``): when it started (seconds since
the call began), the model (``LP`` relaxation, ``restricted`` MIP over some offers, the
others' columns left out, or the ``full`` MIP), its columns, the time limit HiGHS was given, the seconds it took,
how it ended, and its objective, bound and gap (the model's own units; a restricted run's
bound and gap are its own model's); then the whole call. A full run that overruns its limit is left behind
by the engine (``solvers/overrun.py``): its line comes when it ends, after the result.
Shows where a guided solve's time goes and whether HiGHS stopped at its limits
(docs/performance.md, changes 19-21).
"""

from __future__ import annotations

import argparse
import time

from bench.instances import named
from solvers import allocate, guide


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", help="a name from bench.instances (40x250-max_coverage, 200x250-max_coverage, ...)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=float, default=None, help="time limit, s (default: the case's)")
    args = parser.parse_args(argv)
    request = named(args.case, args.seed).request
    if args.limit is not None:
        options = request.options.model_copy(update={"time_limit_s": args.limit})
        request = request.model_copy(update={"options": options})
    began = time.perf_counter()
    real = guide.solve

    def traced(compiled, opts, time_left, start=None):
        if guide.is_restricted(compiled):
            kind = "restricted"
        else:
            kind = "full" if compiled.integrality.any() else "LP"
        at = time.perf_counter() - began
        out = real(compiled, opts, time_left, start=start)
        print(
            f"  at {at:7.1f} s  {kind:10s} {len(compiled.columns):7d} columns  given {time_left:7.1f} s  "
            f"took {out.seconds:7.1f} s  {out.state.value:20s} objective {_g(out.objective)}  "
            f"bound {_g(out.bound)}  gap {_g(out.gap)}",
            flush=True,
        )
        return out

    guide.solve = traced
    try:
        result = allocate(request)
    finally:
        guide.solve = real
    print(
        f"allocate: {time.perf_counter() - began:.2f} s on a {request.options.time_limit_s:g} s limit, "
        f"{result.status.value}, score {result.coverage_score}, spend {result.total_spend:,.0f}, "
        f"gap {result.mip_gap}",
        flush=True,
    )
    return 0


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


if __name__ == "__main__":
    raise SystemExit(main())
