"""Issue 6's targets judged on a set of instances per size, not on one.

    python -m bench.verdict bench/results/set-2026-11-27/seed*.json            # print the table
    python -m bench.verdict bench/results/set-2026-11-27/seed*.json --write    # and put it in docs/

Each file is one ``bench.run --seed N --save FILE`` run (every contender measured on
seed N's instances, alternating, medians); files of the same seed are merged (one with
the small sizes, one with the large, say). ``bench.run``'s own verdict uses seed 1
alone, and one instance per size is luck: HiGHS's time on one instance moves by 2x
when a strictly implied row is added or removed (docs/performance.md), so the same
engine meets a ratio on one seed and misses it on the next. Here each target gets its
value on every seed and over the set:

* ratios (HTTP / highspy, PuLP / HTTP) and overhead shares: the geometric mean over
  the seeds, which a seed twice as fast and one twice as slow leave unchanged;
* the DLA example's overhead (the same instance on every seed): the median;
* where CBC stopped at the time limit without an allocation and stockpile answered,
  PuLP / HTTP counts as infinite (as in ``bench.run``); where both stopped at the
  limit it is left out (no time ratio).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.run import ANSWER_MARGIN_S, DOC, agreement
from bench.stats import geomean

BEGIN, END = "<!-- verdict:begin -->", "<!-- verdict:end -->"


@dataclass(frozen=True)
class Target:
    name: str
    applies: Callable[[dict], bool]
    value: Callable[[dict], tuple[float, str] | None]  # (value, mark) on one seed's entry; None: no value
    summary: Callable[[list[float]], float]
    met: Callable[[float], bool]
    fmt: str
    goal: str | None  # None: shown for reference, not a target
    infinite: str = "missed"  # how an infinite value reads


def _show(t: Target, value: float) -> str:
    return t.infinite if math.isinf(value) else t.fmt.format(value)


def _get(e: dict, contender: str, key: str):
    return e["contenders"].get(contender, {}).get(key)


def _overhead_ms(e: dict):
    over = _get(e, "engine", "median_overhead_s")
    return None if over is None else (1000 * over, "")


def _overhead_share(e: dict):
    total, over = _get(e, "engine", "median_s"), _get(e, "engine", "median_overhead_s")
    return None if total is None or over is None else (100 * over / total, "")


def _http_ratio(e: dict):
    http, ref = _get(e, "http", "median_s"), _get(e, "highs", "median_s")
    return None if http is None or not ref else (http / ref, "")


def _scale_10k(e: dict):
    """HTTP seconds, if the answer is proven within the gap and the peak within 1.5 GB; else infinite."""
    http, status, peak = _get(e, "http", "median_s"), _get(e, "http", "status"), _get(e, "http", "peak_rss_mb")
    if http is None:
        return None
    return (http if status == "optimal" and peak <= 1536 else math.inf), ""


def _scale_50k(e: dict):
    """HTTP seconds, if an allocation came within the time limit (``bench.run.ANSWER_MARGIN_S`` for the answer)."""
    http, status = _get(e, "http", "median_s"), _get(e, "http", "status")
    if http is None:
        return None
    ok = status in ("optimal", "feasible") and http <= e["time_limit_s"] + ANSWER_MARGIN_S
    return (http if ok else math.inf), ""


def _engine_ratio(e: dict):
    mine, ref = _get(e, "engine", "median_s"), _get(e, "highs", "median_s")
    return None if mine is None or not ref else (mine / ref, "")


def _pulp_ratio(e: dict):
    http, pulp = _get(e, "http", "median_s"), _get(e, "pulp", "median_s")
    if http is None or pulp is None:
        return None
    limit = 0.95 * e["time_limit_s"]
    answered = {c: _get(e, c, "status") in ("optimal", "feasible") for c in ("http", "pulp")}
    if min(http, pulp) >= limit and _get(e, "http", "status") != "optimal" and _get(e, "pulp", "status") != "optimal":
        return None  # both stopped by the limit: no time ratio
    if pulp >= limit and answered["http"] and not answered["pulp"]:
        return math.inf, ""  # CBC found no allocation in the time stockpile answered: as bench.run, met
    return pulp / http, ""


TARGETS = [
    Target("engine overhead, ms", lambda e: e["case"] == "dla-2025", _overhead_ms, statistics.median,
           lambda v: v <= 15, "{:.1f}", "<= 15 ms"),
    Target("engine overhead, % of total", lambda e: e["offers"] >= 500, _overhead_share, geomean,
           lambda v: v <= 10, "{:.1f}%", "<= 10%"),
    Target("HTTP / highspy", lambda e: True, _http_ratio, geomean, lambda v: v <= 1.2, "{:.2f}x", "<= 1.2x"),
    Target("PuLP / HTTP", lambda e: e["offers"] >= 500, _pulp_ratio, geomean, lambda v: v >= 2, "{:.2f}x", ">= 2x",
           "no CBC answer"),
    Target("HTTP s to the 1% gap", lambda e: 10_000 <= e["offers"] < 50_000, _scale_10k, max,
           lambda v: v <= 60, "{:.1f}", "<= 60 s, <= 1.5 GB, every seed"),
    Target("HTTP s to an allocation", lambda e: e["offers"] >= 50_000, _scale_50k, max,
           math.isfinite, "{:.1f}", "within the limit, every seed"),
    Target("engine / highspy", lambda e: True, _engine_ratio, geomean, lambda v: True, "{:.2f}x", None),
]


def run_commands(files: list[dict]) -> str:
    """The runs' commands, one per pattern, with the seed as N and the seeds it ran for."""
    seeds: dict[str, list[int]] = {}
    for run in files:
        pattern = re.sub(r"--seed \d+", "--seed N", re.sub(r"seed\d+", "seedN", run["command"]))
        seeds.setdefault(pattern, []).append(run.get("seed", 1))
    return "; ".join(f"`{p}` for N = {', '.join(map(str, sorted(s)))}" for p, s in seeds.items())


def merge_by_seed(files: list[dict]) -> list[dict]:
    """One run per seed, in seed order: the results of every file of that seed together.

    A case in two files of one seed is one case: the later file's contenders replace the
    earlier one's (a re-measurement of some contenders), noted in the entry's ``remeasured``.
    """
    merged: dict[int, dict[str, dict]] = {}
    for run in files:
        cases = merged.setdefault(run.get("seed", 1), {})
        for e in run["results"]:
            old = cases.get(e["case"])
            if old is None:
                cases[e["case"]] = e
                continue
            note = {"contenders": sorted(e["contenders"]), "command": run["command"],
                    "revision": run.get("revision", "?")}
            cases[e["case"]] = {**old, "contenders": {**old["contenders"], **e["contenders"]},
                                "remeasured": [*old.get("remeasured", []), note]}
    order = {e["case"]: i for run in files for i, e in enumerate(run["results"])}
    return [{"seed": seed, "results": sorted(cases.values(), key=lambda e: (e["offers"], order[e["case"]]))}
            for seed, cases in sorted(merged.items())]


def verdict(runs: list[dict]) -> list[str]:
    """The markdown table: one row per case and target, one column per seed, then the set."""
    seeds = [r.get("seed", 1) for r in runs]
    by_case: dict[str, list[dict | None]] = {}
    for i, run in enumerate(runs):
        for e in run["results"]:
            by_case.setdefault(e["case"], [None] * len(runs))[i] = e
    lines = [
        "| case | target | " + " | ".join(f"seed {s}" for s in seeds) + " | over the set | verdict |",
        "|---|---|" + "---:|" * len(seeds) + "---:|---|",
    ]
    disagreements = []
    for case, entries in by_case.items():
        for i, e in enumerate(entries):
            if e is not None and any(a not in ("yes", "ref", "-", "limit", "score within gap")
                                     for a in agreement(e).values()):
                disagreements.append(f"{case} seed {seeds[i]}: {agreement(e)}")
        for t in TARGETS:
            present = [e for e in entries if e is not None]
            if not present or not t.applies(present[0]):
                continue
            values = [None if e is None else t.value(e) for e in entries]
            kept = [v for v in values if v is not None]
            if not kept:
                continue
            cells = ["-" if v is None else _show(t, v[0]) for v in values]
            overall = t.summary([v for v, _ in kept])
            met = "" if t.goal is None else ("met" if t.met(overall) else "NOT met")
            goal = f" ({t.goal})" if t.goal else ""
            lines.append(f"| {case} | {t.name}{goal} | " + " | ".join(cells) + f" | {_show(t, overall)} | {met} |")
    lines.append("")
    for run, seed in zip(runs, seeds):
        for e in run["results"]:
            for note in e.get("remeasured", []):
                lines.append(f"Re-measured: {e['case']} seed {seed}, {', '.join(note['contenders'])}, "
                             f"at {note['revision']} (`{note['command']}`).")
                lines.append("")
    if disagreements:
        lines += ["Contenders that disagree with the highspy baseline:", ""]
        lines += [f"- {d}" for d in disagreements]
    else:
        lines.append("Every answer passed the plain-arithmetic check and agreed with the highspy baseline "
                     "(same status, score and spend within the gap, or both stopped by the limit).")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true", help=f"also write the table into {DOC.name}")
    args = parser.parse_args(argv)
    # In the order they were measured, so that a re-measurement comes after what it replaces.
    files = sorted((json.loads(f.read_text()) for f in args.files), key=lambda run: run.get("when", ""))
    runs = merge_by_seed(files)
    revisions = sorted({r.get("revision", "?") for r in files})
    folders = {f.parent for f in args.files}
    together = len(folders) == 1 and set(args.files) == set(folders.pop().glob("*.json"))
    named = f"{args.files[0].parent}/*.json" if together else " ".join(map(str, args.files))
    command = f"python -m bench.verdict {named}"
    head = [f"Command: `{command}`; the runs: {run_commands(files)} ({', '.join(revisions)}).", ""]
    text = "\n".join(head + verdict(runs)) + "\n"
    print(text)
    if args.write:
        doc = DOC.read_text()
        if BEGIN not in doc:
            raise SystemExit(f"{DOC} has no {BEGIN} ... {END} markers")
        before, rest = doc.split(BEGIN, 1)
        DOC.write_text(f"{before}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
