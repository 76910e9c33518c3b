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
  PuLP / HTTP counts as infinite; where both stopped at the limit with an allocation
  it is left out (no time ratio).

The rules themselves are ``bench.targets``, which ``bench.run`` judges its one run by.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from bench.run import DOC, agreement
from bench.targets import TARGETS, show

BEGIN, END = "<!-- verdict:begin -->", "<!-- verdict:end -->"


def run_commands(files: list[dict]) -> str:
    """The runs' commands, one per pattern, with the seed as N and the seeds it ran for."""
    seeds: dict[str, list[int]] = {}
    for run in files:
        pattern = re.sub(r"--seed \d+", "--seed N", re.sub(r"seed\d+", "seedN", run["command"]))
        seeds.setdefault(pattern, []).append(run.get("seed", 1))
    return "; ".join(f"`{p}` for N = {', '.join(map(str, sorted(s)))}" for p, s in seeds.items())


def load_runs(paths: list[Path]) -> list[dict]:
    """Saved runs (``bench.run --save``), in the order they were measured: a re-measurement after what it replaces."""
    return sorted((json.loads(p.read_text()) for p in paths), key=lambda run: run.get("when", ""))


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
            note = {
                "contenders": sorted(e["contenders"]),
                "command": run["command"],
                "revision": run.get("revision", "?"),
            }
            cases[e["case"]] = {
                **old,
                "contenders": {**old["contenders"], **e["contenders"]},
                "remeasured": [*old.get("remeasured", []), note],
            }
    order: dict[str, int] = {}  # a case's place in the first run that has it (a re-measurement keeps it)
    for run in files:
        for i, e in enumerate(run["results"]):
            order.setdefault(e["case"], i)
    return [
        {"seed": seed, "results": sorted(cases.values(), key=lambda e: (e["offers"], order[e["case"]]))}
        for seed, cases in sorted(merged.items())
    ]


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
            if e is not None and any(
                a not in ("yes", "ref", "-", "limit", "score within gap") for a in agreement(e).values()
            ):
                disagreements.append(f"{case} seed {seeds[i]}: {agreement(e)}")
        for t in TARGETS:
            present = [e for e in entries if e is not None]
            if not present or not t.applies(present[0]):
                continue
            values = [None if e is None else t.value(e) for e in entries]
            kept = [v for v in values if v is not None]
            if not kept:
                continue
            cells = ["-" if v is None else show(t, v) for v in values]
            overall = t.summary(kept)
            met = "" if t.goal is None else ("met" if t.met(overall) else "NOT met")
            goal = f" ({t.goal})" if t.goal else ""
            lines.append(f"| {case} | {t.name}{goal} | " + " | ".join(cells) + f" | {show(t, overall)} | {met} |")
    lines.append("")
    for run, seed in zip(runs, seeds):
        for e in run["results"]:
            for note in e.get("remeasured", []):
                lines.append(
                    f"Re-measured: {e['case']} seed {seed}, {', '.join(note['contenders'])}, "
                    f"at {note['revision']} (`{note['command']}`)."
                )
                lines.append("")
    if disagreements:
        lines += ["Contenders that disagree with the highspy baseline:", ""]
        lines += [f"- {d}" for d in disagreements]
    else:
        lines.append(
            "Every answer passed the plain-arithmetic check and agreed with the highspy baseline "
            "(same status, score and spend within the gap, or both stopped by the limit)."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true", help=f"also write the table into {DOC.name}")
    args = parser.parse_args(argv)
    files = load_runs(args.files)
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
