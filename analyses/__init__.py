"""Analyses that solve many variants of one request: comparisons, frontiers, policy costs.

They sit above the engine (``solvers``) and below the service: each takes a validated
request from ``models.analyses``, applies the change vocabulary (``models.changes``) to
make each variant an ordinary ``AllocationRequest``, solves the variants through an
``Executor`` (``LocalExecutor`` in this process, or ``DaskExecutor`` on a Dask cluster)
with the engine's prepare-once, solve-many ``solvers.Resolver``, and returns the
answer models. Nothing here knows about HTTP.
"""

from analyses.execution import Batch, DaskExecutor, Executor, LocalExecutor, run_batch
from analyses.whatif import compare, delta, frontier, knees, policy_costs, premium_over_market, rules_in_force

__all__ = [
    "Batch",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "compare",
    "delta",
    "frontier",
    "knees",
    "policy_costs",
    "premium_over_market",
    "rules_in_force",
    "run_batch",
]
