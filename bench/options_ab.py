"""HiGHS option variants on the engine over a set of seeded instances, alternating.

    python -m bench.options_ab 10x50,20x50 "norins:mip_heuristic_run_rins=false,mip_heuristic_run_rens=false"

Each variant is NAME:option=value,...; "default" is always included. An option named
engine.FIELD sets a field of solvers.SolverOptions instead of a HiGHS option
(e.g. "unguided:engine.guide_min_integers=none"). OBJECTIVES=min_cost limits the
set to one objective; SEEDS=N uses seeds 1 to N (default 3). Every instance gets a 30 s
limit and a gap of 1e-4 (up to 1,000 offers) or 1e-3; LIMITS=suite gives the sizes of the
benchmark set its own (40x250: 60 s, 1e-2). Prints, per instance,
each variant's seconds/status/objective and, per variant, the total, geometric mean
and worst time.
"""

from __future__ import annotations

import os
import sys
import time

import solvers.options as O
from bench.cli_values import option_value
from bench.instances import ab_limits, make_request
from bench.stats import geomean
from models import AllocationRequest
from solvers import allocate

ENGINE = "engine."


def parse_variants(args: list[str]) -> dict[str, dict[str, object]]:
    """NAME:option=value,... arguments, after "default" (no option changed)."""
    variants: dict[str, dict[str, object]] = {"default": {}}
    for arg in args:
        name, _, assignments = arg.partition(":")
        variants[name] = {k: option_value(v) for k, v in (a.split("=") for a in assignments.split(",") if a)}
    return variants


def cases(sizes: str) -> list[tuple[str, AllocationRequest]]:
    """The seeded instances: every size (MxN), seed and objective asked for."""
    out = []
    for size in sizes.split(","):
        n, per = map(int, size.split("x"))
        limit, gap = ab_limits(n, per)
        for seed in range(1, int(os.environ.get("SEEDS", "3")) + 1):
            for objective in os.environ.get("OBJECTIVES", "max_coverage,min_cost").split(","):
                body = make_request(n, per, objective, seed, limit, gap)
                out.append((f"{n}x{per}s{seed}{objective[:4]}", AllocationRequest.model_validate(body)))
    return out


def main(argv: list[str]) -> int:
    variants = parse_variants(argv[1:])
    current: dict[str, object] = {}
    base_highs = O.SolverOptions.highs

    def highs(self, time_left, **kwargs):  # the engine's HiGHS options, with the variant's on top
        extra = {k: v for k, v in current.items() if not k.startswith(ENGINE)}
        return {**base_highs(self, time_left, **kwargs), **extra}

    O.SolverOptions.highs = highs
    instances = cases(argv[0])
    allocate(instances[0][1])  # untimed: first-use costs
    times: dict[str, list[float]] = {k: [] for k in variants}
    for i, (name, request) in enumerate(instances):
        row = {}
        for k in list(variants) if i % 2 == 0 else list(variants)[::-1]:
            current.clear()
            current.update(variants[k])
            options = O.SolverOptions(**{k[len(ENGINE) :]: v for k, v in current.items() if k.startswith(ENGINE)})
            began = time.perf_counter()
            result = allocate(request, options)
            seconds = time.perf_counter() - began
            times[k].append(seconds)
            value = result.coverage_score if result.coverage_score is not None else result.total_spend
            row[k] = f"{k}={seconds:.2f}s/{result.status.value[:3]}/{value:.6g}"
        print(name, " ".join(row[k] for k in variants), flush=True)
    for k, ts in times.items():
        print(f"{k:12s} total {sum(ts):7.2f}s  geomean {geomean(ts):.3f}s  max {max(ts):.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
