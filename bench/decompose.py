"""The split by mineral under ``min_cost`` (``EngineTuning.split_by_mineral``) against the whole model.

    python -m bench.decompose --family hard --seeds 1,2,3
    python -m bench.decompose --family set --seeds 1,2,3 --largest 10000
    python -m bench.decompose --family mixed --seeds 1,2,3,4

Every rule but the budget lives inside one mineral (docs/formulation.md), and under
``min_cost`` each mineral's part of the model, solved alone, gives the least spend whenever
the parts together keep the budget (``solvers/solve/blocks.py``). Here each ``min_cost`` case
of a family is solved by the engine in-process both ways, in turns (``--reps``), each answer
checked with plain arithmetic: the median seconds, the status and the spend of each way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.instances import Case, dla_case, hard_suite, mixed_suite, suite
from bench.stats import geomean
from solvers import EngineTuning, allocate, check_result

WAYS = {"split": EngineTuning(), "whole": EngineTuning(split_by_mineral=False)}


def measure(case: Case, reps: int) -> dict:
    """Both ways on ``case``, in turns: median seconds, and the last run's status and spend."""
    request = case.request
    row: dict = {"case": case.name, "offers": case.offers, "minerals": case.minerals, "limit_s": case.time_limit_s}
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for r in range(reps):
        order = list(WAYS) if r % 2 == 0 else list(reversed(WAYS))
        for way in order:
            began = time.perf_counter()
            result = allocate(request, WAYS[way])
            times[way].append(time.perf_counter() - began)
            valid = result.status.has_allocation and not check_result(request, result)
            row[f"{way}_status"] = result.status.value
            row[f"{way}_spend"] = result.total_spend if valid else None
    for way in WAYS:
        row[f"{way}_s"] = round(statistics.median(times[way]), 4)
    if row["split_spend"] is not None and row["whole_spend"] is not None:
        row["spend_diff"] = (row["split_spend"] - row["whole_spend"]) / row["whole_spend"]
    return row


def cases(family: str, seeds: tuple[int, ...], largest: int | None) -> list[Case]:
    """The ``min_cost`` cases of ``family``, each seed's."""
    if family == "hard":
        found = hard_suite(seeds, largest)
    elif family == "mixed":
        found = mixed_suite(seeds, largest)
    else:
        found = [
            Case(f"{c.name}-s{seed}", c.minerals, c.offers, c.objective, c.body)
            for seed in seeds
            for c in suite(largest=largest, seed=seed)
            if c.name != "dla-2025"
        ]
    return [c for c in found if c.objective == "min_cost"]


def table(rows: list[dict]) -> str:
    lines = [
        "| offers | cases | whole s | split s | split / whole | proven (whole, split) | spend, split against whole |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for offers in sorted({r["offers"] for r in rows}):
        rs = [r for r in rows if r["offers"] == offers]
        whole, parts = geomean(r["whole_s"] for r in rs), geomean(r["split_s"] for r in rs)
        diffs = [r.get("spend_diff") for r in rs]
        lower = sum(d is not None and d < -1e-9 for d in diffs)
        higher = sum(d is not None and d > 1e-9 for d in diffs)
        same = sum(d is not None and abs(d) <= 1e-9 for d in diffs)
        worst = max((d for d in diffs if d is not None), default=0.0)
        spend = f"{same} same, {lower} lower, {higher} higher (worst {100 * worst:+.3f}%)"
        if any(d is None for d in diffs):
            spend += f", {sum(d is None for d in diffs)} without both"
        proven = (sum(r["whole_status"] == "optimal" for r in rs), sum(r["split_status"] == "optimal" for r in rs))
        lines.append(
            f"| {offers} | {len(rs)} | {whole:.3f} | {parts:.3f} | {parts / whole:.2f}x | "
            f"{proven[0]}, {proven[1]} | {spend} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["hard", "set", "mixed"], default="hard")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--largest", type=int, default=None, help="skip cases with more offers than this")
    parser.add_argument("--reps", type=int, default=1, help="runs of each way, in turns")
    parser.add_argument("--only", default=None, help="only cases whose name contains this")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    allocate(dla_case().request)  # warm up: imports, the first HiGHS
    rows = []
    for case in [c for c in cases(args.family, seeds, args.largest) if not args.only or args.only in c.name]:
        rows.append(measure(case, args.reps))
        print(json.dumps(rows[-1]), flush=True)
    print("\n" + table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
