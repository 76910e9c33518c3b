"""What a 10% overhead share leaves the engine on each instance, against what work outside HiGHS costs.

    python -m bench.share_budget bench/results/set-2026-11-27/*.json
    python -m bench.share_budget bench/results/set-2026-11-27/*.json --floor --only min_cost

Issue 6 asks that the engine's time outside HiGHS's ``run`` be at most 10% of its total
from 500 offers up: at most a ninth of its own HiGHS time. For every case of 500 offers
or more and every seed in the saved runs (``bench.run --save``), this prints that
budget, the engine's overhead, and the raw highspy baseline's overhead (its model built
with numpy, no Pyomo), all medians from the runs.

``--floor`` also measures, on each instance, a floor for the engine's way of building:
its own compiled matrix, entry for entry, as one bare ``ColumnVar`` (its variables
numbered by ``Columns.make`` and made only if asked for, as ``solvers.build`` has them
since change 25) and one family of
rows held as a matrix (``solvers.rows``, as ``solvers.build`` holds each of its families
since 88bcc6b), with no data preparation, no model logic and no reading the answer back,
read back by the engine's reader (``solvers.linear_form``). An engine that builds and
reads its model so cannot spend less outside HiGHS. ``--only`` keeps the cases whose
name contains a string.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

from bench.instances import named
from bench.verdict import load_runs, merge_by_seed
from solvers.build import _keys, create_model, release
from solvers.highs import compile_model
from solvers.linear_form import read_linear_form
from solvers.prepare import prepare
from solvers.rows import Columns, ColumnVar, RowMatrix, Rows

# The target: overhead at most this share of the total, from this many offers up.
SHARE, FROM_OFFERS = 0.10, 500


def budget(solver_s: float) -> float:
    """The most time outside HiGHS that keeps the overhead within SHARE of the total."""
    return SHARE / (1 - SHARE) * solver_s


@dataclass(frozen=True, slots=True)
class Matrix:
    """The engine's compiled matrix of one instance, as CSR arrays, with each row's upper bound."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    upper: np.ndarray  # a row's one finite side is enough for a floor (0 where it has none)
    columns: int


def matrix_of(case: str, seed: int) -> Matrix:
    """The engine's compiled matrix of the case's instance."""
    model = create_model(prepare(named(case, seed).request))
    compiled = compile_model(model)
    csr = compiled.matrix.tocsr()
    upper = np.where(compiled.row_upper < np.inf, compiled.row_upper, 0.0)
    matrix = Matrix(csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data, upper, len(compiled.columns))
    release(model)
    return matrix


def bare_model(matrix: Matrix) -> pyo.ConcreteModel:
    """The matrix as variables in [0, 1] and one family of ``<=`` rows, held as ``solvers.build`` holds its families."""
    bare = pyo.ConcreteModel()
    bare.x = ColumnVar(_keys(list(range(matrix.columns))), bounds=(0, 1))
    bare.columns = Columns()
    bare.columns.make(bare.x)
    count = len(matrix.upper)
    rows = RowMatrix(matrix.indptr, matrix.indices, matrix.data, np.full(count, -np.inf), matrix.upper)
    bare.rows = Rows(list(range(count)), rows, bare.columns)
    bare.cost = pyo.Objective(expr=bare.columns.linear(np.arange(matrix.columns), np.ones(matrix.columns)))
    return bare


def floor_seconds(case: str, seed: int, reps: int = 3) -> tuple[float, float]:
    """(build, read) seconds, medians of ``reps``, of the bare Pyomo model of the case's matrix."""
    matrix = matrix_of(case, seed)
    builds, reads = [], []
    for _ in range(reps):
        began = time.perf_counter()
        bare = bare_model(matrix)
        middle = time.perf_counter()
        if read_linear_form(bare) is None:
            raise RuntimeError("the bare model is not one the engine's reader reads")
        builds.append(middle - began)
        reads.append(time.perf_counter() - middle)
        release(bare)
        del bare
    return statistics.median(builds), statistics.median(reads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--floor", action="store_true", help="also build each instance's bare Pyomo model")
    parser.add_argument("--only", default="", help="only cases whose name contains this (min_cost, 40x250, ...)")
    args = parser.parse_args(argv)
    rows = []
    for run in merge_by_seed(load_runs(args.files)):
        for e in run["results"]:
            engine, raw = e["contenders"].get("engine"), e["contenders"].get("highs")
            if e["offers"] < FROM_OFFERS or engine is None or args.only not in e["case"]:
                continue
            rows.append((e["case"], e["offers"], run["seed"], engine, raw))
    collecting = gc.isenabled()
    gc.disable()  # as the engine builds (solvers.engine._without_gc)
    try:
        head = "| case | seed | HiGHS s | budget ms | engine overhead ms | raw baseline overhead ms |"
        print(head + (" floor ms (build + read) |" if args.floor else ""))
        print("|---|---:|---:|---:|---:|---:|" + "---:|" * args.floor)
        for case, _offers, seed, engine, raw in sorted(rows, key=lambda r: (r[1], r[0], r[2])):
            solver_s = engine["median_solver_s"]
            raw_ms = "-" if raw is None else f"{1e3 * raw['median_overhead_s']:.0f}"
            line = (
                f"| {case} | {seed} | {solver_s:.3f} | {1e3 * budget(solver_s):.0f}"
                f" | {1e3 * engine['median_overhead_s']:.0f} | {raw_ms} |"
            )
            if args.floor:
                build, read = floor_seconds(case, seed)
                gc.collect()
                line += f" {1e3 * (build + read):.0f} ({1e3 * build:.0f} + {1e3 * read:.0f}) |"
            print(line, flush=True)
    finally:
        if collecting:
            gc.enable()
    return 0


if __name__ == "__main__":
    sys.exit(main())
