"""The engine's exceptions. A valid request never raises anything else."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the errors are read by every step, the check is the last
    from solvers.report.check import Violation


class SolverError(Exception):
    """Base of every engine failure that is not an answer about the request."""


class SolverFailed(SolverError):
    """HiGHS stopped with an error rather than a status about the model."""


class SolutionRejected(SolverError):
    """The solver's allocation failed the independent check, even after a re-solve."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        shown = "; ".join(str(v) for v in violations[:5])
        super().__init__(f"the solver's allocation failed the independent check: {shown}")
