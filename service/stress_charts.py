"""Histograms of a stress test: the coverage score and each mineral's coverage, hold beside replan."""

from __future__ import annotations

import io

import numpy as np

MEDIA = {"image/svg+xml": "svg", "image/png": "png"}


def wanted_image(accept: str | None) -> str | None:
    """The image type the Accept header asks for first (svg or png), if any, before JSON."""
    if not accept:
        return None
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in MEDIA:
            return media
        if media in ("application/json", "*/*", "application/*"):
            return None
    return None


def histograms(samples: dict[str, tuple[np.ndarray, np.ndarray]], minerals: list[str], media: str) -> bytes:
    """One column per mode (hold, replan), one row for the score and one per mineral's coverage."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    modes = [m for m in ("hold", "replan") if m in samples]
    rows = 1 + len(minerals)
    fig = Figure(figsize=(5 * len(modes), 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, len(modes), squeeze=False, sharex=True)
    bins = np.linspace(0, 1, 41)
    for c, mode in enumerate(modes):
        score, coverage = samples[mode]
        series = [("coverage score", score)] + [(f"{m} coverage", coverage[:, j]) for j, m in enumerate(minerals)]
        for r, (label, values) in enumerate(series):
            ax = axes[r][c]
            ax.hist(values, bins=bins, color="#4477aa" if mode == "hold" else "#ee6677")
            ax.set_title(f"{mode}: {label}", fontsize=9)
            ax.set_ylabel("draws")
            if len(values):
                ax.axvline(float(np.percentile(values, 5)), color="black", linestyle="--", linewidth=0.8)
        axes[-1][c].set_xlabel("share of target covered (dashed: 5th percentile)")
    out = io.BytesIO()
    fig.savefig(out, format=MEDIA[media])
    return out.getvalue()
