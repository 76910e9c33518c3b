"""Summaries shared by the benchmark scripts."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def geomean(values: Iterable[float]) -> float:
    """The geometric mean: the average that a ratio of 2 and one of 1/2 leave at 1."""
    return math.exp(statistics.mean(math.log(v) for v in values))
