"""Stockpile's engine: a validated request in, a checked allocation out.

``allocate(request, tuning)`` solves one request; ``Resolver(base)`` solves many
variants of one (prepare once, solve many: ``solvers/resolve.py``). It builds a Pyomo
mixed-integer model, solves it with HiGHS and checks the answer against the
request with plain arithmetic before returning it. No Pyomo or HiGHS object
ever leaves this package. ``set_tracer`` lets a profiler see each phase of a
solve (``solvers/trace.py``); ``solvers/parts.py`` gives benchmarks and analyses
single steps of a solve (``result_for``, ``construct_allocation``, ``program_of``).

Inside this package "model" means the Pyomo program built for a request (its
variables, rows and objectives), never the ``models`` package of request and
result types. ``EngineTuning`` is the caller's tuning of the engine, distinct
from the request's own ``SolveOptions``.

The folders follow a request's way, each importing only the ones before it:

* ``prepare/``: read the request into arrays (``instance``), with its prices (``pricing``);
* ``build/``: build the Pyomo model (``program``) from the engine's own row and column
  families (``rows``, ``linear_form``) through the one module that touches Pyomo's
  internals (``pyomo_door``); ``export`` writes it with Pyomo's own writers;
* ``solve/``: HiGHS on the compiled model (``highs``), the guided solve of large
  models (``guide``), runs left past their limit (``overrun``), and the construction
  heuristic (``heuristic``);
* ``answer/``: the quantities read back from the solver's values (``extract``);
* ``report/``: the result's figures and findings (``result``), the plain-arithmetic
  check (``check``) and the diagnosis of infeasible requests (``diagnose``).

At the top, ``engine`` (``allocate``), ``resolve`` and ``robust`` run the steps;
``tuning``, ``budget`` (the time a call may use), ``errors`` and ``trace`` are read by
every step.
"""

from solvers.budget import TimeBudget
from solvers.build.export import write_model
from solvers.engine import allocate
from solvers.errors import SolutionRejected, SolverError, SolverFailed
from solvers.parts import (
    SCORE_ROW_SCALE,
    SCORE_SLACK,
    Construction,
    Program,
    construct_allocation,
    heuristic_mip_s,
    program_of,
    result_for,
)
from solvers.report.check import Violation, check_result
from solvers.report.result import empty_result
from solvers.resolve import Resolver, ResolverStats
from solvers.robust import RobustSolution, robust_allocate
from solvers.solve.overrun import OVERRUN_S, left_running, prime_thread
from solvers.trace import Tracer, set_tracer
from solvers.tuning import EngineTuning

__all__ = [
    "OVERRUN_S",
    "SCORE_ROW_SCALE",
    "SCORE_SLACK",
    "Construction",
    "EngineTuning",
    "Program",
    "Resolver",
    "ResolverStats",
    "RobustSolution",
    "SolutionRejected",
    "SolverError",
    "SolverFailed",
    "TimeBudget",
    "Tracer",
    "Violation",
    "allocate",
    "check_result",
    "construct_allocation",
    "empty_result",
    "heuristic_mip_s",
    "left_running",
    "prime_thread",
    "program_of",
    "result_for",
    "robust_allocate",
    "set_tracer",
    "write_model",
]
