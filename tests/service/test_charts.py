"""The frontier chart: SVG and PNG, labelled axes and units, knees marked; safe to draw from several threads."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree

import pytest

from analyses import frontier
from models.analyses import FrontierRequest, FrontierResult
from service import examples
from service.charts import frontier_chart


@pytest.fixture(scope="module")
def dla_frontier() -> FrontierResult:
    request = examples.catalogue()["dla-2025"]["request"]
    return frontier(FrontierRequest.model_validate({"request": request, "from": 1e8, "to": 1.5e9, "points": 8}))


def _texts(svg: bytes) -> list[str]:
    """The texts drawn (matplotlib draws text as paths and notes each in a comment before it)."""
    return re.findall(r"<!-- (.*?) -->", svg.decode())


def test_svg_has_labelled_axes_with_units_and_the_knees(dla_frontier):
    svg = frontier_chart(dla_frontier, "svg")
    ElementTree.fromstring(svg)  # well-formed XML
    texts = _texts(svg)
    assert "budget ($M)" in texts and "coverage of the weighted targets (%)" in texts
    assert "100%" in texts and "1,000" in texts  # ticks: percent, and millions of dollars
    assert dla_frontier.knees
    labels = [t for t in texts if t.startswith("knee ")]
    assert len(labels) == len(dla_frontier.knees)
    for knee, label in zip(dla_frontier.knees, labels, strict=True):
        assert f"${knee / 1e6:,.0f}M" in label
    minerals = [m.id for m in dla_frontier.points[0].minerals]
    assert all(m in texts for m in minerals)  # the per-mineral lines are in the legend


def test_png_is_a_png_of_the_size_asked(dla_frontier):
    png = frontier_chart(dla_frontier, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (9 * 120, int(5.5 * 120))


def test_points_without_an_allocation_are_marked_not_drawn(dla_frontier):
    data = dla_frontier.model_dump()
    data["points"][0]["status"] = "no_solution"
    data["points"][0]["coverage_score"] = None
    texts = _texts(frontier_chart(FrontierResult.model_validate(data), "svg"))
    assert "no allocation" in texts
    assert "no allocation" not in _texts(frontier_chart(dla_frontier, "svg"))


def test_an_unknown_format_is_refused(dla_frontier):
    with pytest.raises(ValueError, match="svg or png"):
        frontier_chart(dla_frontier, "pdf")  # type: ignore[arg-type]


def test_charts_drawn_in_threads_at_once_equal_charts_drawn_one_by_one(dla_frontier):
    shifted = FrontierResult.model_validate(
        {**dla_frontier.model_dump(), "knees": dla_frontier.knees[:1]}  # a different chart
    )
    jobs = [(dla_frontier, "png"), (shifted, "png"), (dla_frontier, "svg"), (shifted, "svg")]
    alone = [frontier_chart(r, f) for r, f in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: frontier_chart(*job), jobs))
    assert together[:2] == alone[:2]  # PNG: the same pixels
    assert [_texts(svg) for svg in together[2:]] == [_texts(svg) for svg in alone[2:]]  # (SVG ids are random)
    assert alone[0] != alone[1] and _texts(alone[2]) != _texts(alone[3])  # (the two differ: a mix-up would show)


def test_pyplot_is_never_imported():
    code = (
        "import sys, json\n"
        "from service import examples\n"
        "from models.analyses import FrontierResult\n"
        "from service.charts import frontier_chart\n"
        "r = FrontierResult.model_validate({'points': [{'budget': b, 'status': 'optimal', 'coverage_score': b / 4,"
        " 'total_spend': b, 'minerals': []} for b in (1.0, 2.0, 3.0)], 'knees': [2.0]})\n"
        "frontier_chart(r, 'png'); frontier_chart(r, 'svg')\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
