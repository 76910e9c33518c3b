"""Charts of analyses as SVG or PNG: the budget frontier.

Drawn with matplotlib's object API (a ``Figure`` with its own Agg canvas), never
``pyplot``: pyplot keeps a process-wide current figure, which threads serving
requests at once would share. Nothing here reads or changes ``rcParams``.
"""

from __future__ import annotations

import io
from typing import Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from models.analyses import FrontierResult

ChartFormat = Literal["svg", "png"]
MEDIA_TYPES: dict[str, str] = {"svg": "image/svg+xml", "png": "image/png"}
PNG_DPI = 120
# Per-mineral lines are drawn when there are at most this many minerals (more would be noise).
MAX_MINERAL_LINES = 12


def frontier_chart(result: FrontierResult, fmt: ChartFormat, minerals: bool = True) -> bytes:
    """The coverage score against the budget (in $M), knees marked and labelled.

    ``minerals``: also each mineral's coverage, as thin lines (when there are few enough).
    Points without an allocation (``infeasible``, ``no_solution``) are left out of the lines
    and marked on the budget axis.
    """
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"chart format must be svg or png, not {fmt!r}")
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    solved = [p for p in result.points if p.status.has_allocation and p.coverage_score is not None]
    budgets = [p.budget / 1e6 for p in solved]
    scores = [p.coverage_score for p in solved]

    if minerals and solved:
        ids = [m.id for m in solved[0].minerals]
        if len(ids) <= MAX_MINERAL_LINES:
            for k, mineral_id in enumerate(ids):
                coverage = [next((m.coverage for m in p.minerals if m.id == mineral_id), 0.0) for p in solved]
                ax.plot(budgets, coverage, lw=1.0, alpha=0.7, ls="--", color=f"C{(k + 1) % 10}", label=mineral_id)
    ax.plot(budgets, scores, lw=2.5, marker="o", ms=4, color="C0", label="coverage score", zorder=3)

    by_budget = {p.budget: p for p in solved}
    for n, knee in enumerate(result.knees, start=1):
        point = by_budget.get(knee)
        if point is None:
            continue
        x, y = knee / 1e6, point.coverage_score
        ax.plot(
            [x],
            [y],
            ls="none",
            marker="o",
            ms=11,
            mfc="none",
            mec="C3",
            mew=2,
            zorder=4,
            label="knee" if n == 1 else None,
        )
        ax.annotate(
            f"knee {n}: ${x:,.0f}M, {y:.1%}",
            (x, y),
            xytext=(12, -22 if y > 0.5 else 14),
            textcoords="offset points",
            color="C3",
            fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "C3", "lw": 0.8},
        )
    unsolved = [p for p in result.points if p not in solved]
    if unsolved:
        ax.plot(
            [p.budget / 1e6 for p in unsolved],
            [0.0] * len(unsolved),
            ls="none",
            marker="x",
            color="0.3",
            label="no allocation",
            clip_on=False,
        )

    ax.set_xlabel("budget ($M)")
    ax.set_ylabel("coverage of the weighted targets (%)")
    ax.set_title("Budget frontier: the most coverage each budget buys (max_coverage)")
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, ncol=2)

    out = io.BytesIO()
    # (no creation date in the file: the same frontier gives the same chart)
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(out, format=fmt, dpi=PNG_DPI, metadata=metadata)
    return out.getvalue()
