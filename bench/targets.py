"""The benchmark's speed targets, one rule each, on one benchmark entry (one instance, every contender).

Used by ``bench.run`` (one run's verdict) and ``bench.verdict`` (a set's), so that the
two judge by the same rules.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.stats import geomean

# "Within the time limit": the service counts the limit from the request's arrival (reading
# and validating included), so only writing and reading back the answer may come after it.
ANSWER_MARGIN_S = 1.0


@dataclass(frozen=True)
class Target:
    name: str
    applies: Callable[[dict], bool]
    value: Callable[[dict], float | None]  # its value on one run's entry; None: no value
    summary: Callable[[list[float]], float]
    met: Callable[[float], bool]
    fmt: str
    goal: str | None  # None: shown for reference, not a target
    infinite: str = "missed"  # how an infinite value reads


def show(t: Target, value: float) -> str:
    return t.infinite if math.isinf(value) else t.fmt.format(value)


def _get(e: dict, contender: str, key: str):
    return e["contenders"].get(contender, {}).get(key)


def _overhead_ms(e: dict):
    over = _get(e, "engine", "median_overhead_s")
    return None if over is None else 1000 * over


def _overhead_share(e: dict):
    total, over = _get(e, "engine", "median_s"), _get(e, "engine", "median_overhead_s")
    return None if total is None or over is None else 100 * over / total


def _http_ratio(e: dict):
    http, ref = _get(e, "http", "median_s"), _get(e, "highs", "median_s")
    return None if http is None or not ref else http / ref


def _scale_10k(e: dict):
    """HTTP seconds, if the answer is proven within the gap and the peak within 1.5 GB; else infinite."""
    http, status, peak = _get(e, "http", "median_s"), _get(e, "http", "status"), _get(e, "http", "peak_rss_mb")
    if http is None:
        return None
    return http if status == "optimal" and peak <= 1536 else math.inf


def _scale_50k(e: dict):
    """HTTP seconds, if an allocation came within the time limit (``ANSWER_MARGIN_S`` for the answer)."""
    http, status = _get(e, "http", "median_s"), _get(e, "http", "status")
    if http is None:
        return None
    ok = status in ("optimal", "feasible") and http <= e["time_limit_s"] + ANSWER_MARGIN_S
    return http if ok else math.inf


def _engine_ratio(e: dict):
    mine, ref = _get(e, "engine", "median_s"), _get(e, "highs", "median_s")
    return None if mine is None or not ref else mine / ref


def _pulp_ratio(e: dict):
    """PuLP's seconds over HTTP's; infinite where CBC found no allocation by the limit and stockpile did;
    None where both stopped at the limit with an allocation (no time ratio)."""
    http, pulp = _get(e, "http", "median_s"), _get(e, "pulp", "median_s")
    if http is None or pulp is None:
        return None
    limit = 0.95 * e["time_limit_s"]
    status = {c: _get(e, c, "status") for c in ("http", "pulp")}
    answered = {c: s in ("optimal", "feasible") for c, s in status.items()}
    if pulp >= limit and answered["http"] and not answered["pulp"]:
        return math.inf
    if min(http, pulp) >= limit and "optimal" not in status.values():
        return None
    return pulp / http


# One row per target: name, which entries it judges, value, summary over seeds, met, format, goal.
# fmt: off
TARGETS = [
    Target("engine overhead, ms", lambda e: e["case"] == "dla-2025", _overhead_ms, statistics.median,
           lambda v: v <= 15, "{:.1f}", "<= 15 ms"),
    Target("engine overhead, % of total", lambda e: e["offers"] >= 500, _overhead_share, geomean,
           lambda v: v <= 10, "{:.1f}%", "<= 10%"),
    Target("HTTP / highspy", lambda e: True, _http_ratio, geomean,
           lambda v: v <= 1.2, "{:.2f}x", "<= 1.2x"),
    Target("PuLP / HTTP", lambda e: e["offers"] >= 500, _pulp_ratio, geomean,
           lambda v: v >= 2, "{:.2f}x", ">= 2x", "no CBC answer"),
    Target("HTTP s to the 1% gap", lambda e: 10_000 <= e["offers"] < 50_000, _scale_10k, max,
           lambda v: v <= 60, "{:.1f}", "<= 60 s, <= 1.5 GB"),
    Target("HTTP s to an allocation", lambda e: e["offers"] >= 50_000, _scale_50k, max,
           math.isfinite, "{:.1f}", "within the limit"),
    Target("engine / highspy", lambda e: True, _engine_ratio, geomean,
           lambda v: True, "{:.2f}x", None),
]
# fmt: on
