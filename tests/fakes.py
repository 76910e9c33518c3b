"""Stand-ins for HiGHS runs, to put the engine on paths real solves rarely take."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from solvers.solve.highs import Compiled, SolveOutcome, SolveState


def stopped(seconds: float = 0.0) -> SolveOutcome:
    """A run stopped by its time limit with nothing found."""
    return SolveOutcome(SolveState.LIMIT_NO_SOLUTION, None, None, None, seconds, None, "Time limit reached")


def fake_run(monkeypatch, module: ModuleType, at: int, outcome_of: Callable[[Compiled], SolveOutcome]) -> list[int]:
    """Make run number ``at`` of ``module.solve`` return ``outcome_of(compiled)``; the others run.

    Returns the list that counts the runs made.
    """
    real = module.solve
    runs: list[int] = []

    def patched(compiled, *args, **kwargs):
        runs.append(1)
        if len(runs) == at:
            return outcome_of(compiled)
        return real(compiled, *args, **kwargs)

    monkeypatch.setattr(module, "solve", patched)
    return runs
