"""The mixed family (``bench.instances.mixed_suite``): the set's speed targets on other mixes of features.

    python -m bench.mixed run --seeds 1,2,3,4
        every case (100-600 offers, both objectives, each seed's own mix) with the contenders
        of ``bench.run`` (default http, highs, pulp), each in its own process; every answer
        checked with plain arithmetic and compared with the highspy baseline's. The entries
        go to ``bench/results/mixed.json`` (those of other cases are kept).
    python -m bench.mixed table
        the table of the saved entries: per size and objective, the geometric mean over the
        seeds of HTTP / highspy and of PuLP / HTTP (the rules of ``bench.targets``), their
        range, and how the answers agree.

The set's requests share one mix of features; a target met there may be that mix's luck.
The targets judged here are the set's: HTTP at most 0.5x raw highspy end to end, PuLP/CBC
at least 2x slower than HTTP from 100 offers.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections import Counter
from pathlib import Path

from bench.instances import MIXED_SIZES, mixed_mix, mixed_suite
from bench.run import agreement, bench_case, revision
from bench.stats import geomean
from bench.targets import _engine_ratio, _http_ratio, _pulp_ratio

RESULTS = Path(__file__).resolve().parent / "results" / "mixed.json"


def _ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return "CBC none" if math.isinf(x) else f"{x:.2f}x"


def _summary(values: list[float]) -> str:
    """Geometric mean, then the range, of ratios (infinite: CBC found nothing where stockpile did)."""
    if not values:
        return "-"
    finite = [v for v in values if not math.isinf(v)]
    lo, hi = min(values), max(values)
    return f"{_ratio(geomean(values))} ({_ratio(lo)}-{_ratio(hi)})" if finite else _ratio(math.inf)


def table(entries: list[dict]) -> str:
    """Per size and objective: the ratios over the seeds, and the answers against the highspy baseline."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for e in entries:
        groups.setdefault((e["offers"], e["objective"]), []).append(e)
    head = (
        "| offers | objective | seeds | HTTP / highspy (<= 0.5x) | engine / highspy | PuLP / HTTP (>= 2x) "
        "| answers against highspy |"
    )
    lines = [
        head,
        "|---:|---|---:|---|---|---|---|",
    ]
    everything: dict[str, list[float]] = {"http": [], "engine": [], "pulp": []}
    for (offers, objective), es in sorted(groups.items()):
        ratios = {"http": _http_ratio, "engine": _engine_ratio, "pulp": _pulp_ratio}
        values = {k: [v for v in map(f, es) if v is not None] for k, f in ratios.items()}
        for k, vs in values.items():
            everything[k] += vs
        agreed: dict[str, Counter] = {}
        for e in es:
            for c, a in agreement(e).items():
                if c != "highs":
                    agreed.setdefault(c, Counter())[a] += 1
        answers = "; ".join(f"{c}: " + ", ".join(f"{k} {a}" for a, k in sorted(n.items())) for c, n in agreed.items())
        lines.append(
            f"| {offers} | {objective} | {len(es)} | {_summary(values['http'])} | {_summary(values['engine'])} | "
            f"{_summary(values['pulp'])} | {answers} |"
        )
    lines.append(
        f"| all | both | {len(entries)} | {_summary(everything['http'])} | {_summary(everything['engine'])} | "
        f"{_summary(everything['pulp'])} | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["run", "table", "mixes"])
    parser.add_argument("--seeds", default="1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--largest", type=int, default=None, help="skip cases with more offers than this")
    parser.add_argument("--only", default=None, help="only cases whose name contains this")
    parser.add_argument("--contenders", default="http,highs,pulp", help="some of http,engine,highs,pulp")
    parser.add_argument("--reps", type=int, default=1, help="repetitions per case, in rotating order")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    cases = [c for c in mixed_suite(seeds, args.largest) if not args.only or args.only in c.name]
    if args.what == "mixes":  # what each case's request is made of
        for offers, _ in MIXED_SIZES:
            for objective in ("max_coverage", "min_cost"):
                for seed in seeds:
                    print(f"mixed-{offers}-{objective}-s{seed}", json.dumps(mixed_mix(offers, objective, seed)))
        return 0
    if args.what == "run":
        command = "python -m bench.mixed " + " ".join(map(shlex.quote, sys.argv[1:] if argv is None else argv))
        contenders = args.contenders.split(",")
        fresh = []
        for case in cases:
            entry = bench_case(case, args.reps, contenders)
            fresh.append({**entry, "revision": revision(), "command": command})
            print(json.dumps({"case": case.name, "agreement": agreement(entry)}), flush=True)
        kept = json.loads(RESULTS.read_text())["entries"] if RESULTS.exists() else []
        names = {e["case"] for e in fresh}
        RESULTS.write_text(
            json.dumps({"entries": [e for e in kept if e["case"] not in names] + fresh}, indent=1) + "\n"
        )
    entries = json.loads(RESULTS.read_text())["entries"]
    print("\n".join(sorted({f"{e['command']} (at {e['revision']})" for e in entries})) + "\n")
    print(table(entries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
