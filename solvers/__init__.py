"""Stockpile's engine: a validated request in, a checked allocation out.

``allocate(request, options)`` is the only entry point. It builds a Pyomo
mixed-integer model, solves it with HiGHS and checks the answer against the
request with plain arithmetic before returning it. No Pyomo or HiGHS object
ever leaves this package.
"""

from solvers.check import Violation, check_result
from solvers.engine import allocate
from solvers.errors import SolutionRejected, SolverError, SolverFailed
from solvers.options import SolverOptions
from solvers.overrun import left_running, prime_thread
from solvers.report import empty_result

__all__ = [
    "SolutionRejected",
    "SolverError",
    "SolverFailed",
    "SolverOptions",
    "Violation",
    "allocate",
    "check_result",
    "empty_result",
    "left_running",
    "prime_thread",
]
