"""Two checkouts of the engine on the same seeded instances, alternating: is a model change faster?

    python -m bench.tree_ab /tmp/old 5x20,10x20,10x50 --reps 5
    OBJECTIVES=min_cost SEEDS=6 python -m bench.tree_ab /tmp/old 10x50

OLD is another checkout (``git worktree add /tmp/old REV``); the other side is this
one. Every instance is solved by one ``bench.worker engine`` process per checkout
(each imports models/ and solvers/ from its own tree), both warmed up, then REPS
times each, alternating which goes first. Per instance: median wall seconds, median
seconds inside HiGHS's ``run``, the rest (engine overhead), and whether both agree
by ``bench.run``'s rule (status; score and spend within the request's gap, spend only
at the same score; every allocation checked by plain arithmetic by its own side).
Totals and geometric means at the end.
OBJECTIVES, SEEDS and LIMITS as in ``bench.options_ab`` (default both objectives, seeds 1-3;
LIMITS=suite: the benchmark set's time limit and gap for the size, else --time-limit and
1e-4 up to 1,000 offers, 1e-3 above).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.instances import ab_limits, make_request
from bench.run import agreement
from bench.stats import geomean

HERE = Path(__file__).resolve().parent.parent


class Side:
    """One checkout's ``bench.worker engine`` process for one instance."""

    def __init__(self, tree: Path, request_path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", "engine", request_path],
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree)},
        )
        assert json.loads(self._line())["ready"]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench.worker exited with {self.proc.wait()}")
        return line

    def run(self) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait()


def _agree(old: dict, new: dict, gap: float) -> str:
    """bench.run's agreement label for the new answer against the old one ("yes", "score within gap", ...)."""
    return agreement({"mip_gap": gap, "contenders": {"highs": old, "new": new}})["new"]


def _answer(run: dict) -> str:
    broken = f", breaks {run['violations']}" if run["violations"] else ""
    return f"{run['status']} score {run['score']} spend {run['spend']}{broken}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="the other checkout")
    parser.add_argument("sizes", help="MINERALSxOFFERS,... e.g. 5x20,10x50")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": HERE}
    seeds = range(1, int(os.environ.get("SEEDS", "3")) + 1)
    objectives = os.environ.get("OBJECTIVES", "max_coverage,min_cost").split(",")
    walls: dict[str, list[float]] = {k: [] for k in trees}
    outside: dict[str, list[float]] = {k: [] for k in trees}
    shares: dict[str, list[float]] = {k: [] for k in trees}
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            n, per = map(int, size.split("x"))
            limit, gap = ab_limits(n, per, args.time_limit)
            for seed in seeds:
                for objective in objectives:
                    path = os.path.join(tmp, "request.json")
                    with open(path, "w") as f:
                        json.dump(make_request(n, per, objective, seed, limit, gap), f)
                    sides = {k: Side(tree, path) for k, tree in trees.items()}
                    runs: dict[str, list[dict]] = {k: [] for k in trees}
                    for rep in range(args.reps):
                        for k in list(trees) if rep % 2 == 0 else list(trees)[::-1]:
                            runs[k].append(sides[k].run())
                    for side in sides.values():
                        side.close()
                    cells = []
                    for k, rs in runs.items():
                        wall = statistics.median(r["seconds"] for r in rs)
                        rest = statistics.median(r["seconds"] - r["run_seconds"] for r in rs)
                        walls[k].append(wall)
                        outside[k].append(rest)
                        shares[k].append(rest / wall)
                        cells.append(f"{k} {wall:7.3f}s ({rest * 1e3:6.1f} ms outside, {100 * rest / wall:4.1f}%)")
                    label = _agree(runs["old"][0], runs["new"][0], gap)
                    same = label in ("yes", "score within gap")
                    differ += not same
                    if not same:
                        cells += [f"DIFFER ({label}) {k}: {_answer(rs[0])}" for k, rs in runs.items()]
                    print(f"{size}s{seed}{objective[:4]}  " + "  ".join(cells), flush=True)
    for k in trees:
        geo = geomean(walls[k])
        print(
            f"{k}: total {sum(walls[k]):7.2f} s, geometric mean {geo:.3f} s, "
            f"outside HiGHS {sum(outside[k]) * 1e3:.0f} ms in total ({100 * geomean(shares[k]):.1f}% of the wall "
            f"time, geometric mean), worst {max(walls[k]):.2f} s"
        )
    print(f"{differ} instance(s) where the two disagree" if differ else "all instances agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
