"""Prepare once, solve many: a Resolver's frontier and comparison beside one ``allocate``, in one run.

    python -m bench.resolve                 # DLA and the 500-offer instance (10x50-max_coverage)
    python -m bench.resolve --skip-large    # DLA only
    python -m bench.resolve --fresh         # also 21 fresh allocates of the same points (what in place saves)

Times, side by side (wall clock, and this process's CPU time, which other work on a
shared machine disturbs less), each the median of ``--reps`` repetitions:

* one ``allocate`` of the request (the unit of the what-if targets);
* a 21-point budget frontier (10% to 200% of the budget, ``max_coverage``) through one
  ``Resolver`` (made inside the timing: prepare once, then solve the 21 points);
* DLA: a comparison, the base and 10 data variants (budget, exclusion, tariffs, prices,
  capacities, caps) through one ``Resolver``;
* the same frontier and comparison as the service answers them, in this process
  (``analyses.whatif.frontier`` and ``compare`` on a ``LocalExecutor``: the frontier solves
  its largest budget first and only the budgets below that answer's spend);
* with ``--fresh``: the same points each through ``allocate``.

Targets (over HTTP, docs/performance.md): DLA frontier <= 6x one solve, 500-offer frontier <= 8x, DLA
comparison <= 4x. Every answer is compared with nothing here: ``tests/solvers/test_resolve.py`` proves
them equal to fresh solves.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import numpy as np

from analyses.execution import LocalExecutor
from analyses.whatif import compare
from analyses.whatif import frontier as frontier_analysis
from bench.instances import named
from models import AllocationRequest, Objective
from models.analyses import ComparisonRequest, FrontierRequest
from solvers import Resolver, allocate

POINTS = 21


def frontier(base: AllocationRequest) -> list[AllocationRequest]:
    """The frontier's requests: budgets from 10% to 200% of the base's, max_coverage."""
    return [
        base.model_copy(update={"budget": base.budget * f, "objective": Objective.MAX_COVERAGE})
        for f in np.linspace(0.1, 2.0, POINTS)
    ]


def dla_variants(base: AllocationRequest) -> list[AllocationRequest]:
    """The base and 10 data variants of the DLA example."""
    policy = base.policy

    def with_policy(**changes) -> AllocationRequest:
        return base.model_copy(update={"policy": policy.model_copy(update=changes)})

    def scaled(factor: float, field: str, mineral: str | None = None) -> AllocationRequest:
        suppliers = []
        for o in base.suppliers:
            if mineral is not None and o.mineral != mineral:
                suppliers.append(o)
            elif field == "capacity":
                suppliers.append(o.model_copy(update={"capacity": o.capacity * factor}))
            else:
                tiers = [t.model_copy(update={"unit_price": t.unit_price * factor}) for t in o.price_tiers or []]
                price = None if o.unit_price is None else o.unit_price * factor
                suppliers.append(o.model_copy(update={"unit_price": price, "price_tiers": tiers or None}))
        return base.model_copy(update={"suppliers": suppliers})

    caps = [cap.model_copy(update={"max_share": 0.5}) for cap in policy.country_caps]
    return [
        base,
        base.model_copy(update={"budget": base.budget * 0.8}),
        base.model_copy(update={"budget": base.budget * 1.2}),
        with_policy(excluded_countries=["CN"]),
        with_policy(tariffs={c: r for c, r in policy.tariffs.items() if c != "CN"}),
        with_policy(tariffs={**policy.tariffs, "CN": 0.5}),
        with_policy(country_caps=caps),
        with_policy(max_supplier_share=0.6),
        scaled(1.3, "price", "cobalt"),
        scaled(0.9, "price"),
        scaled(0.5, "capacity", "cobalt"),
    ]


def timed(work: Callable[[], object], reps: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``work()`` over ``reps`` runs (garbage collected between, untimed)."""
    walls, cpus = [], []
    for _ in range(reps):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def through_resolver(base: AllocationRequest, requests: list[AllocationRequest], stats: list) -> Callable[[], None]:
    def work() -> None:
        resolver = Resolver(base)
        for req in requests:
            resolver.solve(req)
        stats.append(resolver.stats)
        resolver.close()

    return work


def each_fresh(requests: list[AllocationRequest]) -> Callable[[], None]:
    def work() -> None:
        for req in requests:
            allocate(req)

    return work


def as_service(base: AllocationRequest, variants: list[dict] | None) -> Callable[[], None]:
    """The frontier (or, with ``variants``, the comparison) as ``analyses.whatif`` answers it, in this process."""
    if variants is None:
        body = FrontierRequest.model_validate(
            {"request": base, "from": 0.1 * base.budget, "to": 2.0 * base.budget, "points": POINTS}
        )
        return lambda: frontier_analysis(body, LocalExecutor())
    comparison = ComparisonRequest.model_validate({"request": base, "variants": variants})
    return lambda: compare(comparison, LocalExecutor())


def comparison_changes(base: AllocationRequest) -> list[dict]:
    """The 10 variants of ``bench.whatif``'s comparison, as changes to ``base``."""
    from bench.whatif import comparison_body

    return comparison_body(base.model_dump(mode="json"))["variants"]


def report(name: str, one: tuple[float, float], rows: list[tuple[str, tuple[float, float], str]]) -> None:
    print(f"{name}: one allocate {one[0] * 1e3:.1f} ms wall, {one[1] * 1e3:.1f} ms CPU")
    for label, (wall, cpu), note in rows:
        print(
            f"  {label:34s} {wall * 1e3:9.1f} ms wall ({wall / one[0]:5.1f}x)"
            f" {cpu * 1e3:9.1f} ms CPU ({cpu / one[1]:5.1f}x)  {note}"
        )


def case(name: str, base: AllocationRequest, reps: int, fresh: bool, variants: list | None) -> None:
    allocate(base)  # warm-up: imports, HiGHS's first instance
    one = timed(lambda: allocate(base), max(reps, 3))
    rows = []
    points = frontier(base)
    stats: list = []
    rows.append((f"{POINTS}-point frontier, Resolver", timed(through_resolver(base, points, stats), reps), stats[-1]))
    if fresh:
        rows.append((f"{POINTS}-point frontier, allocate each", timed(each_fresh(points), reps), ""))
    rows.append((f"{POINTS}-point frontier, analysis", timed(as_service(base, None), reps), ""))
    if variants is not None:
        changes = comparison_changes(base)
        rows.append((f"base + {len(changes)} variants, analysis", timed(as_service(base, changes), reps), ""))
        stats = []
        label = f"base + {len(variants) - 1} variants, Resolver"
        rows.append((label, timed(through_resolver(base, variants, stats), reps), stats[-1]))
        if fresh:
            rows.append((f"base + {len(variants) - 1} variants, allocate each", timed(each_fresh(variants), reps), ""))
    report(name, one, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each timing (median; default 3)")
    parser.add_argument("--fresh", action="store_true", help="also time the same points through allocate")
    parser.add_argument("--skip-large", action="store_true", help="DLA only")
    args = parser.parse_args(argv)
    dla = named("dla-2025").request
    case("dla-2025", dla, args.reps, args.fresh, dla_variants(dla))
    if not args.skip_large:
        case("10x50-max_coverage (500 offers)", named("10x50-max_coverage").request, 1, args.fresh, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
