"""How close is the LP over each mineral's cheapest offers to the full LP relaxation?

    python -m bench.lp_restricted 40x250 [K] [max_coverage|min_cost] [option=value ...]

Solves, with HiGHS and the engine's options: the full LP relaxation of stage one;
the LP restricted to each mineral's K (default 10) cheapest offers per unit
(solvers.guide.cheapest_offers); then, on the same Highs object, the full LP again
after freeing the other offers' columns (a hot start from the restricted basis).
HiGHS options given as option=value apply to every run (e.g. solver=ipm,
simplex_strategy=4). The measurement behind "What limits the large sizes" in docs/performance.md.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import replace

import highspy
import numpy as np

from bench.instances import make_request
from models import AllocationRequest
from solvers.build import column_offers, create_model
from solvers.guide import cheapest_offers
from solvers.highs import Compiled, compile_model, load
from solvers.options import SolverOptions
from solvers.prepare import prepare


def relaxation(compiled: Compiled, extra: dict[str, object]) -> highspy.Highs:
    """A Highs object holding the LP relaxation of ``compiled``."""
    h = highspy.Highs()
    load(h, replace(compiled, integrality=np.zeros_like(compiled.integrality)),
         {**SolverOptions(mip_gap=1e-2).highs(600), **extra})  # fmt: skip
    return h


def fixed_out(compiled: Compiled, owners: np.ndarray, offers: set[int]) -> Compiled:
    """``compiled`` with every column of the offers not in ``offers`` fixed at 0.

    Every column is kept (unlike the guided solve's restricted models, which leave those
    columns out), so that freeing them again on the same Highs object restarts from the basis.
    """
    dropped = (owners >= 0) & ~np.isin(owners, np.fromiter(offers, dtype=owners.dtype, count=len(offers)))
    return replace(
        compiled,
        col_lower=np.where(dropped, 0.0, compiled.col_lower),
        col_upper=np.where(dropped, 0.0, compiled.col_upper),
    )


def _value(name: str, text: str) -> object:
    """An option's value with the type HiGHS wants (time_limit is a double, solver a string)."""
    if name in FLOAT_OPTIONS:
        return float(text)
    return int(text) if text.isdigit() else text


FLOAT_OPTIONS = {"time_limit", "primal_feasibility_tolerance", "dual_feasibility_tolerance"}


def timed_run(h: highspy.Highs) -> tuple[float, float]:
    t = time.perf_counter()
    h.run()
    return time.perf_counter() - t, -h.getInfo().objective_function_value


def main() -> None:
    n, per = map(int, sys.argv[1].split("x"))
    keep = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    objective = sys.argv[3] if len(sys.argv) > 3 else "max_coverage"
    extra: dict[str, object] = {}
    for arg in sys.argv[4:]:
        name, _, text = arg.partition("=")
        extra[name] = _value(name, text)
    request = AllocationRequest.model_validate(make_request(n, per, objective, 1, 600, 1e-2))
    instance = prepare(request)
    gc.disable()
    model = create_model(instance)
    compiled = compile_model(model)
    owners = column_offers(model, compiled)
    gc.enable()
    seconds, value = timed_run(relaxation(compiled, extra))
    print(f"full LP: {seconds:.2f} s, objective {value:.6f} ({len(instance.offers)} offers)")
    kept = cheapest_offers(instance, keep)
    h = relaxation(fixed_out(compiled, owners, set(kept)), extra)
    seconds, value = timed_run(h)
    print(f"LP over the {keep} cheapest per mineral: {seconds:.2f} s, objective {value:.6f} ({len(kept)} offers)")
    every = np.arange(len(compiled.columns), dtype=np.int32)
    h.changeColsBounds(len(every), every, compiled.col_lower, compiled.col_upper)
    seconds, value = timed_run(h)
    print(f"then the full LP from that basis: {seconds:.2f} s, objective {value:.6f}")
    print("(objectives are stage one's score for max_coverage, minus spend / budget for min_cost)")


if __name__ == "__main__":
    main()
