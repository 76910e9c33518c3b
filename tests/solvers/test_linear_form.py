"""solvers.build.linear_form reads exactly what Pyomo's standard-form compiler writes.

The fast reader exists only for speed: HiGHS must receive the same matrices,
bounds, column order and objectives, entry for entry, or results could change
(ties broken differently, other branching). Compared here with Pyomo's own
compiler on the example, a bench-sized model and many random requests.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings

from models import AllocationRequest
from service.examples import example_request, names
from solvers.answer.extract import load_values
from solvers.build.linear_form import read_linear_form
from solvers.build.program import create_model
from solvers.build.pyomo_door import LinearExpression, LinearStandardFormCompiler, MonomialTermExpression
from solvers.prepare.instance import prepare
from solvers.solve.highs import _append_row, compile_model
from tests.strategies import requests


def _assert_same_form(model: pyo.ConcreteModel) -> None:
    fast = read_linear_form(model)
    assert fast is not None, "create_model's rows should all take the fast path"
    ref = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    assert [v.name for v in fast.columns] == [v.name for v in ref.columns]
    assert [(c.name, int(kind)) for c, kind in zip(fast.constraints, fast.kinds, strict=True)] == [
        (c.name, kind) for c, kind in ref.rows
    ]
    assert [o.name for o in fast.objectives] == [o.name for o in ref.objectives]
    columns = {id(v) for v in ref.columns}
    assert {id(v) for v in fast.unused} == {id(v) for v in model.component_data_objects(pyo.Var)} - columns
    assert np.array_equal(np.asarray(fast.rhs, dtype=float), np.asarray(ref.rhs, dtype=float))
    assert np.array_equal(np.asarray(fast.c_offset, dtype=float), np.asarray(ref.c_offset, dtype=float))
    for mine, theirs in ((fast.A, ref.A), (fast.c, ref.c)):
        assert mine.shape == theirs.shape
        assert np.array_equal(mine.indptr, theirs.indptr)
        assert np.array_equal(mine.indices, theirs.indices)
        assert np.array_equal(mine.data, theirs.data)


@pytest.mark.parametrize("name", names())
def test_examples_compile_as_pyomo_does(name: str) -> None:
    _assert_same_form(create_model(prepare(example_request(name))))


@pytest.mark.parametrize("objective", ["max_coverage", "min_cost"])
def test_bench_model_compiles_as_pyomo_does(objective: str) -> None:
    from bench.instances import make_request

    request = AllocationRequest.model_validate(make_request(4, 12, objective, 3, 30, 1e-4))
    _assert_same_form(create_model(prepare(request)))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(requests(max_minerals=3, max_offers=4))
def test_random_models_compile_as_pyomo_does(request: AllocationRequest) -> None:
    model = create_model(prepare(request))
    if read_linear_form(model) is None:  # a constant row (no usable offer): Pyomo's compiler handles it
        return
    _assert_same_form(model)


def test_other_expressions_fall_back_to_pyomo() -> None:
    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(2), bounds=(0, 1))
    model.row = pyo.Constraint(expr=model.x[0] + 2 * model.x[1] >= 1)  # not a LinearExpression vs a constant
    model.obj = pyo.Objective(expr=model.x[0])
    assert read_linear_form(model) is None
    compiled = compile_model(model)  # through LinearStandardFormCompiler
    assert compiled.matrix.shape == (1, 2)


@pytest.mark.parametrize("fast", [True, False])
def test_variables_outside_every_row_are_unused_and_read_zero(fast: bool) -> None:
    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(3), bounds=(0, 1))
    model.spare = pyo.Var(range(2), bounds=(0, 1))  # a component in no row at all
    model.row = pyo.Constraint(expr=_row([model.x[0], model.x[1]]) >= 1)  # x[2] in no row either
    model.obj = pyo.Objective(expr=_row([model.x[0]]))
    if not fast:
        model.x[1].fix(1)  # Pyomo's compiler, which leaves fixed variables out
    compiled = compile_model(model)
    assert (read_linear_form(model) is not None) is fast
    expected = [model.x[2], model.spare[0], model.spare[1]]
    assert {id(v) for v in compiled.unused} == {id(v) for v in expected}
    for var in model.component_data_objects(pyo.Var):
        if not var.fixed:
            var.set_value(0.5)
    load_values(compiled, np.ones(len(compiled.columns)))
    assert [v.value for v in expected] == [0, 0, 0]
    assert model.x[0].value == 1
    if not fast:
        assert model.x[1].value == 1  # fixed: left as it is


def _row(variables: list) -> LinearExpression:
    return LinearExpression([MonomialTermExpression((1.0, v)) for v in variables])


def test_fixed_variables_fall_back_to_pyomo() -> None:
    model = create_model(prepare(example_request(names()[0])))
    next(iter(model.x.values())).fix(0)
    assert read_linear_form(model) is None


def test_append_row_matches_scipy_vstack() -> None:
    import scipy.sparse as sp

    rng = np.random.default_rng(7)
    matrix = sp.random(40, 60, density=0.1, format="csc", random_state=7)
    matrix.sum_duplicates()
    row = np.where(rng.random(60) < 0.3, rng.random(60), 0.0)
    expected = sp.vstack([matrix, sp.csr_array(row.reshape(1, -1))], format="csc")
    expected.sum_duplicates()
    got = _append_row(matrix, row)
    assert got.shape == expected.shape
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    assert np.array_equal(got.data, expected.data)


def test_repeated_terms_are_summed_and_a_row_of_zeros_goes_to_pyomo() -> None:
    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(2), bounds=(0, 1))
    model.row = pyo.Constraint(expr=_row([model.x[0], model.x[1], model.x[0]]) <= 2)
    model.obj = pyo.Objective(expr=_row([model.x[1]]))
    fast = read_linear_form(model)
    assert fast is not None
    assert fast.A.toarray().tolist() == [[2.0, 1.0]]
    _assert_same_form(model)
    x0 = model.x[0]
    cancelled = LinearExpression([MonomialTermExpression((1.0, x0)), MonomialTermExpression((-1.0, x0))])
    model.empty = pyo.Constraint(expr=cancelled <= 1)  # x - x <= 1: no nonzero left
    assert read_linear_form(model) is None
    assert compile_model(model).matrix.shape[0] == 1  # Pyomo's compiler drops the trivial row


def test_a_fixed_variable_in_no_row_is_left_as_it_is() -> None:
    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(2), bounds=(0, 1))
    model.k = pyo.Var(initialize=3)
    model.k.fix()
    model.row = pyo.Constraint(expr=_row([model.x[0], model.x[1]]) >= 1)
    model.obj = pyo.Objective(expr=_row([model.x[0]]))
    compiled = compile_model(model)
    assert read_linear_form(model) is not None
    load_values(compiled, np.ones(len(compiled.columns)))
    assert model.k.value == 3


def test_the_model_builds_the_same_when_pyomo_templates_constraints(monkeypatch) -> None:
    # Pyomo can build constraints from templates (off by default); rows built in advance
    # cannot be templated and must then be built one by one, to the same model.
    from solvers.build.pyomo_door import constraint_module

    request = example_request(names()[0])
    plain_model = create_model(prepare(request))  # kept alive: a freed model's variables lose their names
    plain = compile_model(plain_model)
    monkeypatch.setattr(constraint_module, "TEMPLATIZE_CONSTRAINTS", True)
    templated_model = create_model(prepare(request))
    templated = compile_model(templated_model)
    assert [v.name for v in templated.columns] == [v.name for v in plain.columns]
    assert np.array_equal(templated.matrix.indptr, plain.matrix.indptr)
    assert np.array_equal(templated.matrix.indices, plain.matrix.indices)
    assert np.array_equal(templated.matrix.data, plain.matrix.data)
    assert np.array_equal(templated.row_lower, plain.row_lower)
    assert np.array_equal(templated.row_upper, plain.row_upper)


@pytest.mark.parametrize("plain", [True, False], ids=["plain bounds", "with an expression bound"])
def test_column_bounds_are_what_pyomo_resolves(plain: bool) -> None:
    from solvers.solve.highs import column_bounds

    model = pyo.ConcreteModel()
    model.p = pyo.Param(mutable=True, initialize=3)
    model.free = pyo.Var()
    model.by_param = pyo.Var(bounds=(None, model.p))  # an expression bound: Pyomo resolves it
    model.count = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(-5, 7.5))  # the domain is tighter below
    model.pick = pyo.Var(domain=pyo.Binary, bounds=(0.5, None))
    model.fraction = pyo.Var(range(2), bounds={0: (0, 0.25), 1: (0.5, 1)})
    model.shared = pyo.Var(range(2), domain=pyo.Integers, bounds=(-2, 2))
    model.shared[1].domain = pyo.NonNegativeReals  # one variable of a component with a domain of its own
    columns = [model.free, model.count, model.pick, *model.fraction.values(), *model.shared.values()]
    if not plain:
        columns.insert(1, model.by_param)
    lower, upper, integer = column_bounds(columns)
    assert [(lo, hi) for lo, hi in zip(lower, upper)] == [
        (-np.inf if lb is None else lb, np.inf if ub is None else ub) for lb, ub in (v.bounds for v in columns)
    ]
    assert integer.tolist() == [int(v.is_integer()) for v in columns]
    assert integer.tolist() == ([0, 1, 1, 0, 0, 1, 0] if plain else [0, 0, 1, 1, 0, 0, 1, 0])


def test_column_bounds_read_an_infinite_bound_as_pyomo_does() -> None:
    from solvers.solve.highs import column_bounds

    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(2), bounds=(0, 1))
    model.x[1].setub(float("inf"))
    lower, upper, _ = column_bounds(list(model.x.values()))
    assert lower.tolist() == [0, 0]
    assert upper.tolist() == [1, np.inf]
    assert [v.bounds for v in model.x.values()] == [(0, 1), (0, None)]


def test_column_bounds_clip_an_integer_bound_beyond_any_float_to_the_domain_as_pyomo_does() -> None:
    from solvers.solve.highs import column_bounds

    model = pyo.ConcreteModel()
    model.pick = pyo.Var(domain=pyo.Binary, bounds=(-(10**400), 10**400))
    model.amount = pyo.Var(domain=pyo.NonNegativeReals, bounds=(-(10**400), 5))
    lower, upper, integer = column_bounds([model.pick, model.amount])
    assert list(zip(lower.tolist(), upper.tolist())) == [model.pick.bounds, model.amount.bounds] == [(0, 1), (0, 5)]
    assert integer.tolist() == [1, 0]


def test_column_bounds_refuse_a_nan_bound_as_pyomo_does() -> None:
    from solvers.solve.highs import column_bounds

    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(2), bounds=(0, 1))
    model.x[1].setub(float("nan"))
    with pytest.raises(ValueError, match="non-finite upper bound"):
        column_bounds(list(model.x.values()))
