"""Read quantities out of a solution and snap them to what the request allows.

The solver returns values within its tolerances: a lot count of 2.9999999,
a quantity a hair below an all-units breakpoint, a usage binary of 1e-9.
Quantities are snapped to the discrete structure the solver chose (whole lots,
the chosen tier's range, exactly zero when unused) so that every reported
figure is exact arithmetic on a quantity the request admits.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from solvers.build import segmented
from solvers.highs import Compiled
from solvers.prepare import ZERO, CostShape, Instance


def load_values(compiled: Compiled, values: np.ndarray) -> None:
    """Write a solution into the compiled model's variables (variables the compiler dropped read 0)."""
    for var in compiled.unused:
        var.set_value(0, skip_validation=True)
    for var, value in zip(compiled.columns, np.asarray(values, dtype=float).tolist()):  # Python floats, made in C
        var.set_value(value, skip_validation=True)


def quantities(model: pyo.ConcreteModel, instance: Instance) -> list[float]:
    """Quantity bought from every offer of the request (0 for dropped offers)."""
    out = [0.0] * len(instance.request.suppliers)
    for i, od in enumerate(instance.offers):
        used = (pyo.value(model.y[i]) > 0.5) if i in model.y else None
        if used is False:
            continue
        if od.lots is not None:  # whole lots: exact already
            out[od.index] = round(pyo.value(model.n[i])) * od.offer.lot_size
            continue
        q = min(max(_fraction(model, i, od), 0.0), 1.0) * od.bound
        if q <= ZERO * od.bound:
            continue
        # Round first, then snap to the structure the solver chose, which rounding must not undo.
        q = _tidy(q)
        if used and od.offer.min_order > 0:
            q = max(q, od.offer.min_order)
        if od.shape == CostShape.ALL_UNITS:
            q = _into_chosen_tier(model, i, od, q)
        out[od.index] = q
    return out


# Significant digits a quantity is reported to: a thousand times finer than the
# 1e-6 every rule is checked to, and coarse enough to drop solver noise
# (19.99999998 t when stage two gives back its 1e-9 of score -> 20 t).
DIGITS = 9


def _tidy(q: float) -> float:
    """q to DIGITS significant digits, rounded up only to undo float noise.

    Rounding up a quantity the solver put at a spend limit could overspend it
    by a few cents; so q rounds to the nearest value when that moves it by float
    noise (1e-11 relative) or down, and otherwise down.
    """
    nearest = float(f"{q:.{DIGITS}g}")
    if nearest <= q * (1 + 1e-11):
        return nearest
    step = 10.0 ** (math.floor(math.log10(q)) - DIGITS + 1)
    return float(f"{math.floor(q / step) * step:.{DIGITS}g}")


def _fraction(model: pyo.ConcreteModel, i: int, od) -> float:
    """Offer i's quantity as a fraction of its bound: the sum of its parts (solvers.build.Arrays)."""
    if segmented(od):
        return sum(pyo.value(model.seg[i, k]) for k in range(len(od.tiers)))
    return pyo.value(model.x[i])


def _into_chosen_tier(model: pyo.ConcreteModel, i: int, od, q: float) -> float:
    for k, tier in enumerate(od.tiers):
        if pyo.value(model.z[i, k]) > 0.5:
            return min(max(q, tier.lo), tier.hi)
    return q
