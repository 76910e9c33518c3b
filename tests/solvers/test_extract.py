"""solvers.answer.extract: a solution read by position, and the quantities snapped from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyomo.environ as pyo
import pytest

from solvers.answer.extract import quantities, solution
from solvers.build.program import create_model
from solvers.errors import SolverFailed
from solvers.prepare.instance import prepare
from solvers.solve.highs import compile_model
from tests.builders import mineral, offer, request, tiers


def _model(elastic: bool = False) -> pyo.ConcreteModel:
    req = request(
        50_000,
        [mineral("co", 100), mineral("sb", 10)],
        [
            offer("small", 10, 40, fixed_cost=50),
            offer("lots", 12, 90, mineral="co", lot_size=5),
            offer("bulk", None, 80, discount="all_units", price_tiers=tiers((30, 11), (None, 9))),
            offer("steps", None, 70, price_tiers=tiers((20, 13), (40, 9), (None, 8))),
            offer("antimony", 30, 20, mineral="sb", min_order=4),
        ],
    )
    return create_model(prepare(req), elastic_floors=elastic)


def _position(model: pyo.ConcreteModel, var) -> int:
    return next(p for p, v in enumerate(model.columns.vars) if v is var)


@pytest.mark.parametrize("elastic", [False, True])
def test_a_solution_reads_the_same_by_position_and_through_the_variables(elastic: bool) -> None:
    model = _model(elastic)
    compiled = compile_model(model)
    assert compiled.numbering is model.columns and compiled.positions is not None
    values = np.random.default_rng(7).random(len(compiled.columns))
    by_position = solution(model, compiled, values)
    # Compiled by Pyomo's compiler, positions are not known: the values go through the variables.
    through = solution(model, dataclasses.replace(compiled, numbering=None, positions=None), values)
    assert by_position.tolist() == through.tolist()
    columns = {id(v): values[c] for c, v in enumerate(compiled.columns)}
    assert by_position.tolist() == [columns.get(id(v), 0.0) for v in model.columns.vars]


def test_quantities_read_the_allocation_a_solution_holds() -> None:
    model = _model()
    compiled = compile_model(model)
    instance = model.instance
    answer = solution(model, compiled, np.zeros(len(compiled.columns)))
    assert quantities(model, instance, answer) == [0.0] * 5
    # Buy the whole bound of "small" (x = 1, y = 1) and 3.0000001 lots of "lots".
    answer[_position(model, model.x[0])] = 1.0
    answer[_position(model, model.y[0])] = 1.0
    lots = next(i for i, od in enumerate(instance.offers) if od.lots is not None)
    answer[_position(model, model.n[lots])] = 3.0000001
    bought = quantities(model, instance, answer)
    assert bought[0] == instance.offers[0].bound
    assert bought[instance.offers[lots].index] == 15.0
    assert sum(bought) == instance.offers[0].bound + 15.0


def test_values_that_are_not_finite_are_the_solvers_failure() -> None:
    model = _model()
    compiled = compile_model(model)
    values = np.zeros(len(compiled.columns))
    values[3] = np.nan
    with pytest.raises(SolverFailed, match="not finite"):
        solution(model, compiled, values)
