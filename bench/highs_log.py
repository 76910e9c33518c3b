"""One engine solve with the HiGHS log on: where does the time go?

    python -m bench.highs_log 40x250 max_coverage 60 [option=value ...]
    python -m bench.highs_log dla - 30 [option=value ...]     # the built-in example

seed=N picks the generated instance's seed (default 1); engine.FIELD=VALUE (an
integer, true, false or none) sets a field of solvers.SolverOptions
(engine.guide_min_integers=none: no guided solve; engine.jump_with_start=true);
any other option=value is a HiGHS option. Prints HiGHS's own log of every run (LP
relaxations and restricted models of the guided solve included), then the result.
"""

import sys
import time

import solvers.options as O
from bench.cli_values import option_value
from bench.instances import dla_case, make_request
from models import AllocationRequest
from solvers import allocate

extra, engine, seed = {}, {}, 1
for a in sys.argv[4:]:
    k, v = a.split("=")
    if k == "seed":
        seed = int(v)
        continue
    if k.startswith("engine."):
        engine[k[7:]] = option_value(v)
        continue
    extra[k] = option_value(v)
base = O.SolverOptions.highs
O.SolverOptions.highs = lambda self, t, **kw: {**base(self, t, **kw), "output_flag": True, **extra}
if sys.argv[1] == "dla":
    body = dla_case().body
    r = AllocationRequest.model_validate({**body, "options": {**body["options"], "time_limit_s": float(sys.argv[3])}})
else:
    n, per = map(int, sys.argv[1].split("x"))
    gap = 1e-2 if n * per >= 10000 else 1e-3
    r = AllocationRequest.model_validate(make_request(n, per, sys.argv[2], seed, float(sys.argv[3]), gap))
t = time.perf_counter()
res = allocate(r, O.SolverOptions(**engine))
print("RESULT", time.perf_counter() - t, res.status.value, res.coverage_score, res.total_spend, res.mip_gap)
