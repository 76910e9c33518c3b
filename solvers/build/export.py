"""The engine's Pyomo model, written out with Pyomo's own writers for inspection.

``write_model`` builds the model ``allocate`` builds for a request and writes it in
LP format with Pyomo's LP writer (readable names). Under ``max_coverage`` the file
holds stage one (the best coverage score); the least-spend stage that follows it is
the same model with the score held (``docs/formulation.md``). Under ``min_cost`` it is
the whole problem.
"""

from __future__ import annotations

from pathlib import Path

from pyomo.opt import ProblemFormat

from models import AllocationRequest, Objective
from solvers.build.program import create_model, release
from solvers.prepare.instance import prepare


def write_model(request: AllocationRequest, path: str | Path) -> None:
    """Write the model of ``request`` to ``path`` as an LP file (Pyomo's LP writer)."""
    model = create_model(prepare(request))
    try:
        if request.objective is Objective.MAX_COVERAGE:
            model.min_spend.deactivate()  # the LP format holds one objective: stage one's
        model.write(str(path), format=ProblemFormat.cpxlp, io_options={"symbolic_solver_labels": True})
    finally:
        release(model)
