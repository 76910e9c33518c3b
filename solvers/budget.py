"""The time one request may use: one value, made where the request arrives and handed down.

A ``TimeBudget`` is the time limit a request may use, already settled (the request's own
or a default, clamped to a maximum), and the instant it counts from. Its clock is
``time.monotonic()``: one clock for every process of the machine, so a budget made in the
web process when a request arrives holds unchanged in the worker process that solves it.

Everything that spends the time reads it rather than working the limit out again: the
server's hard deadline and overtime (``service.solving``, ``service.pool``), the engine's
stages and what it keeps back for the work after the solver and for the construction
heuristic (``solvers.engine``), the guided solve (``solvers.solve.guide``) and the overrun
watchdog (``solvers.solve.overrun``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class TimeBudget:
    """``limit_s`` seconds counted from ``began`` (``time.monotonic()``), less ``kept_s`` kept back.

    ``limit_s`` is the limit the request was given (what its findings quote); ``kept_s`` is
    time kept back from the end for work that must still fit in after the solver
    (``keep_back``), so the ``deadline`` the solver works to is ``began + limit_s - kept_s``.
    """

    limit_s: float
    began: float
    kept_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit_s) and self.limit_s > 0):
            raise ValueError(f"a time limit must be a positive number of seconds, not {self.limit_s!r}")
        if not math.isfinite(self.began):
            raise ValueError(f"a budget must begin at a finite instant, not {self.began!r}")
        if not (math.isfinite(self.kept_s) and self.kept_s >= 0):
            raise ValueError(f"time kept back must be zero or more seconds, not {self.kept_s!r}")

    @classmethod
    def start(cls, limit_s: float, max_s: float | None = None, began: float | None = None) -> TimeBudget:
        """``limit_s`` clamped to ``max_s`` (None: no clamp), counted from ``began`` (None: now)."""
        limit = limit_s if max_s is None else min(limit_s, max_s)
        return cls(limit, time.monotonic() if began is None else began)

    @property
    def deadline(self) -> float:
        """When the time is up (``time.monotonic()``), what is kept back excluded."""
        return self.began + self.limit_s - self.kept_s

    def remaining(self, now: float | None = None) -> float:
        """Seconds left until ``deadline``; negative once it has passed."""
        return self.deadline - (time.monotonic() if now is None else now)

    def expired(self, now: float | None = None) -> bool:
        """Whether ``deadline`` has come."""
        return self.remaining(now) <= 0

    def after(self, grace_s: float) -> float:
        """The instant ``grace_s`` seconds past ``deadline`` (a hard deadline, an overtime)."""
        return self.deadline + grace_s

    def keep_back(self, seconds: float) -> TimeBudget:
        """The same budget with ``seconds`` more kept back from its end (a negative amount keeps none)."""
        return replace(self, kept_s=self.kept_s + max(seconds, 0.0))

    def rest(self, at_least: float, now: float | None = None) -> TimeBudget:
        """What is left, as a budget of its own from now, of at least ``at_least`` seconds.

        For the process that takes a request over (a worker): the time the request spent
        reaching it is gone, and a solve handed nothing at all could not even return the
        start it has in hand, so it gets ``at_least`` (more than 0).
        """
        now = time.monotonic() if now is None else now
        return TimeBudget(max(self.remaining(now), at_least), now)
