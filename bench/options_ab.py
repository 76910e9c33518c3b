"""HiGHS option variants on the engine over a set of seeded instances, alternating.

    python -m bench.options_ab 10x50,20x50 "norins:mip_heuristic_run_rins=false,mip_heuristic_run_rens=false"

Each variant is NAME:option=value,...; "default" is always included. An option named
engine.FIELD sets a field of solvers.SolverOptions instead of a HiGHS option
(e.g. "unguided:engine.guide_min_integers=none"). OBJECTIVES=min_cost limits the
set to one objective; SEEDS=N uses seeds 1 to N (default 3). Prints per instance seconds/status/objective and, per variant, total, geometric mean, worst.
"""
import os
import sys
import time

import solvers.options as O
from bench.cli_values import option_value
from bench.instances import make_request
from bench.stats import geomean
from models import AllocationRequest
from solvers import allocate

base_highs = O.SolverOptions.highs
variants = {"default": {}}
for v in sys.argv[2:]:
    name, _, kv = v.partition(":")
    d = {}
    for a in filter(None, kv.split(",")):
        k, val = a.split("=")
        d[k] = option_value(val)
    variants[name] = d
cur = {}
def highs(self, t, **kw): return {**base_highs(self, t, **kw), **{k: v for k, v in cur.items() if not k.startswith("engine.")}}
def engine_options(): return O.SolverOptions(**{k[7:]: v for k, v in cur.items() if k.startswith("engine.")})
O.SolverOptions.highs = highs
sizes = [tuple(map(int, s.split("x"))) for s in sys.argv[1].split(",")]
cases = []
for n, per in sizes:
    for seed in range(1, int(os.environ.get("SEEDS", "3")) + 1):
        for obj in os.environ.get("OBJECTIVES", "max_coverage,min_cost").split(","):
            cases.append((f"{n}x{per}s{seed}{obj[:4]}", AllocationRequest.model_validate(make_request(n, per, obj, seed, 30.0, 1e-4 if n * per <= 1000 else 1e-3))))
allocate(cases[0][1])
times = {k: [] for k in variants}
for i, (name, r) in enumerate(cases):
    order = list(variants) if i % 2 == 0 else list(variants)[::-1]
    row = {}
    for k in order:
        cur.clear(); cur.update(variants[k])
        t = time.perf_counter(); res = allocate(r, engine_options()); s = time.perf_counter() - t
        times[k].append(s); row[k] = (s, res.status.value, res.coverage_score if res.coverage_score is not None else res.total_spend)
    print(name, " ".join(f"{k}={row[k][0]:.2f}s/{row[k][1][:3]}/{row[k][2]:.6g}" for k in variants), flush=True)
for k, ts in times.items():
    print(f"{k:12s} total {sum(ts):7.2f}s  geomean {geomean(ts):.3f}s  max {max(ts):.2f}s")
