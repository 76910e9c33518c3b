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

from solvers.build.pyomo_door import VAR_VALUE
from solvers.errors import SolverFailed
from solvers.prepare.instance import ZERO, CostShape, Instance, whole_lots
from solvers.solve.highs import Compiled


def load_values(compiled: Compiled, values: np.ndarray) -> None:
    """Write a solution into the compiled model's variables (variables the compiler dropped read 0)."""
    for var in compiled.unused:
        var.set_value(0, skip_validation=True)
    for var, value in zip(compiled.columns, np.asarray(values, dtype=float).tolist()):  # Python floats, made in C
        var.set_value(value, skip_validation=True)


def solution(model: pyo.ConcreteModel, compiled: Compiled, values: np.ndarray) -> np.ndarray:
    """A solution of ``compiled`` as the value of every variable ``model.columns`` numbers, by position.

    Variables that are not columns (in no active row or objective) read 0. When the
    columns' positions in ``model.columns`` are not known (a model compiled by Pyomo's
    compiler), the values go through the variables: loaded, then read back. Values
    that are not all finite are the solver's failure, not an allocation.
    """
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise SolverFailed("HiGHS returned column values that are not finite")
    if compiled.numbering is not model.columns:
        load_values(compiled, values)
        return _column_values(model)
    out = np.zeros(model.columns.size)
    numbered = compiled.positions >= 0
    out[compiled.positions[numbered]] = values[numbered]
    return out


def quantities(model: pyo.ConcreteModel, instance: Instance, value: np.ndarray) -> list[float]:
    """Quantity bought from every offer of the request (0 for dropped offers), from a ``solution``.

    Offers that buy nothing are found with numpy; only the others are snapped one by one.
    """
    a = model.arrays
    out = [0.0] * len(instance.request.suppliers)
    if not instance.offers:
        return out
    has_y = a.y >= 0
    used = np.where(has_y, value[a.y] > 0.5, True)
    # Each offer's fraction of its bound, to tell the ones that buy something; the exact
    # sum is taken again below, in the parts' order, for those.
    rough = np.add.reduceat(value[a.part_position], a.first_part[:-1])
    buys = used & ((a.lots > 0) | (rough > ZERO / 2))
    has_y = has_y.tolist()
    for i in np.flatnonzero(buys).tolist():  # a few hundred of 10,000 offers: their columns only, as floats
        od = instance.offers[i]
        if od.lots is not None:  # whole lots: exact already
            out[od.index] = float(whole_lots(round(float(value[a.n[i]])), od.offer.lot_size))
            continue
        parts = value[a.part_position[a.first_part[i] : a.first_part[i + 1]]].tolist()
        q = min(max(sum(parts), 0.0), 1.0) * od.bound
        if q <= ZERO * od.bound:
            continue
        # Round first, then snap to the structure the solver chose, which rounding must not undo.
        q = _tidy(q)
        if has_y[i] and od.offer.min_order > 0:  # used, with a minimum order
            q = max(q, od.offer.min_order)
        if od.shape == CostShape.ALL_UNITS:
            q = _into_chosen_tier(value[a.part_z[a.first_part[i] : a.first_part[i + 1]]].tolist(), od, q)
        out[od.index] = q
    return out


def _column_values(model: pyo.ConcreteModel) -> np.ndarray:
    """The value loaded in every variable ``model.columns`` numbers, by position."""
    values = list(map(VAR_VALUE, model.columns.vars))  # what var.value reads
    if None in values:
        missing = model.columns.vars[values.index(None)]
        raise ValueError(f"no value for {missing.name}: load the solution first")
    return np.array(values, dtype=float)


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


def _into_chosen_tier(z: list[float], od, q: float) -> float:
    """q within the tier whose binary (value ``z[k]`` for tier k) the solver set."""
    for chosen, tier in zip(z, od.tiers, strict=True):
        if chosen > 0.5:
            return min(max(q, tier.lo), tier.hi)
    return q
