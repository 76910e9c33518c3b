"""The speed targets judged on a set of instances per size, not on one.

    python -m bench.verdict bench/results/set/*.json            # print the table
    python -m bench.verdict bench/results/set/*.json --write    # and put it in docs/performance.md
    python -m bench.verdict bench/results/set/*.json new/*.json --merge bench/results/set

Each file is one ``bench.run --seed N --save FILE`` run (every contender measured on
seed N's instances, alternating, medians), or one seed's merged runs; files of the same
seed are merged, a later run's contenders replacing an earlier one's on the same case
(a re-measurement). Each contender keeps the commit and the command that measured it.
``--merge DIR`` writes the merged runs there, one file per seed (``seedN.json``), and
removes the other JSON files of DIR: the repository keeps the latest measurement of
every instance and contender, git the older ones.

One instance per size is luck: HiGHS's time on one instance moves by 2x when a strictly
implied row is added or removed, so the same engine meets a ratio on one seed and misses
it on the next. Here each target gets its value on every seed and over the set:

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
import sys
from pathlib import Path

from bench.run import DOC, agreement
from bench.targets import TARGETS, show

BEGIN, END = "<!-- verdict:begin -->", "<!-- verdict:end -->"


def load_runs(paths: list[Path]) -> list[dict]:
    """Saved runs (``bench.run --save``), in the order they were measured: a re-measurement after what it replaces."""
    return sorted((json.loads(p.read_text()) for p in paths), key=lambda run: run.get("when", ""))


def merge_by_seed(files: list[dict]) -> list[dict]:
    """One run per seed, in seed order: the results of every file of that seed together.

    A case in two files of one seed is one case: the later file's contenders replace the
    earlier one's (a re-measurement of some contenders). Every contender is stamped with
    the ``revision`` and ``command`` of the run that measured it (unless it has them).
    """
    merged: dict[int, dict[str, dict]] = {}
    for run in files:
        cases = merged.setdefault(run.get("seed", 1), {})
        for e in run["results"]:
            stamped = {
                name: {"revision": run.get("revision", "?"), "command": run.get("command", "?"), **c}
                for name, c in e["contenders"].items()
            }
            old = cases.get(e["case"])
            cases[e["case"]] = (
                {**e, "contenders": stamped}
                if old is None
                else {
                    **old,
                    "contenders": {**old["contenders"], **stamped},
                }
            )
    order: dict[str, int] = {}  # a case's place in the first run that has it (a re-measurement keeps it)
    for run in files:
        for i, e in enumerate(run["results"]):
            order.setdefault(e["case"], i)
    return [
        {"seed": seed, "results": sorted(cases.values(), key=lambda e: (e["offers"], order[e["case"]]))}
        for seed, cases in sorted(merged.items())
    ]


def _seeds(seeds: list[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def measured_at(runs: list[dict]) -> list[str]:
    """Which commit measured each case's contenders, seeds named where they differ: a line per case, one
    line for the cases measured alike."""
    seeds_of: dict[str, dict[str, dict[str, list[int]]]] = {}  # case -> contender -> revision -> seeds
    for run in runs:
        for e in run["results"]:
            for name, c in e["contenders"].items():
                rev = c.get("revision", "?").removeprefix("commit ")
                seeds_of.setdefault(e["case"], {}).setdefault(name, {}).setdefault(rev, []).append(run.get("seed", 1))
    alike: dict[str, list[str]] = {}  # the description -> the cases it describes
    for case, contenders in seeds_of.items():
        groups: dict[str, list[str]] = {}  # the same revisions on the same seeds: one group
        for name, revs in contenders.items():
            where = ", ".join(rev if len(revs) == 1 else f"{rev} ({_seeds(seeds)})" for rev, seeds in revs.items())
            groups.setdefault(where, []).append(name)
        description = "; ".join(f"{', '.join(names)} at {where}" for where, names in groups.items())
        alike.setdefault(description, []).append(case)
    return [f"- {', '.join(cases)}: {description}" for description, cases in alike.items()]


# How a contender that agrees with the highspy baseline compares with it (``bench.run.agreement``).
AGREES = ("yes", "ref", "-", "limit", "score within gap")


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
    disagreements = []  # each case and seed where a contender disagrees: those contenders and how
    for case, entries in by_case.items():
        for i, e in enumerate(entries):
            odd = {} if e is None else {c: a for c, a in agreement(e).items() if a not in AGREES}
            if odd:
                disagreements.append(f"{case} seed {seeds[i]} ({', '.join(f'{c}: {a}' for c, a in odd.items())})")
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
    lines += ["", "Measured at (commit per contender; `bench.run --seed N --save` runs):", "", *measured_at(runs), ""]
    if disagreements:
        lines.append("Contenders that disagree with the highspy baseline: " + "; ".join(disagreements) + ".")
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
    parser.add_argument("--merge", type=Path, default=None, metavar="DIR", help="write the merged runs to DIR")
    args = parser.parse_args(argv)
    files = load_runs(args.files)
    runs = merge_by_seed(files)
    if args.merge is not None:
        write_merged(files, runs, args.merge)
        args.files = sorted(args.merge.glob("*.json"))
    folders = {f.parent for f in args.files}
    together = len(folders) == 1 and set(args.files) == set(folders.pop().glob("*.json"))
    named = f"{args.files[0].parent}/*.json" if together else " ".join(map(str, args.files))
    head = [f"Command: `python -m bench.verdict {named}`.", ""]
    text = "\n".join(head + verdict(runs)) + "\n"
    print(text)
    if args.write:
        doc = DOC.read_text()
        if BEGIN not in doc:
            raise SystemExit(f"{DOC} has no {BEGIN} ... {END} markers")
        before, rest = doc.split(BEGIN, 1)
        DOC.write_text(f"{before}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}")
    return 0


def write_merged(files: list[dict], runs: list[dict], folder: Path) -> None:
    """``runs`` (merged) into ``folder``, one ``seedN.json`` per seed; its other JSON files removed."""
    folder.mkdir(parents=True, exist_ok=True)
    written = set()
    for run in runs:
        seed = run["seed"]
        of_seed = [f for f in files if f.get("seed", 1) == seed]
        path = folder / f"seed{seed}.json"
        merged = {
            "command": "python -m bench.verdict --merge (each contender names the run that measured it)",
            "seed": seed,
            "revision": "merged",
            "when": max(f.get("when", "") for f in of_seed),
            "results": run["results"],
        }
        path.write_text(json.dumps(merged, indent=1) + "\n")
        written.add(path)
    for path in folder.glob("*.json"):
        if path not in written:
            path.unlink()


if __name__ == "__main__":
    sys.exit(main())
