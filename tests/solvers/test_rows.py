"""solvers.build.rows: a constraint family held as a matrix is still an ordinary Pyomo constraint.

Every reader must see the same rows: the engine's fast reader (which reads an
untouched family's arrays at once), Pyomo's own standard-form compiler and LP
writer (which ask each row for its expression), and ``value``.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pyomo.environ as pyo
import pytest

from solvers.build.linear_form import read_linear_form
from solvers.build.program import release
from solvers.build.pyomo_door import (
    VAR_INDEX,
    VAR_LB,
    VAR_UB,
    LinearExpression,
    LinearStandardFormCompiler,
    component_data,
)
from solvers.build.rows import Columns, ColumnVar, Rows, entries_to_rows
from solvers.solve.highs import column_bounds, compile_model


def _model() -> pyo.ConcreteModel:
    """x[0..2] in [0, 4]; rows a: x0 + 2 x1 <= 3, b: x1 - x2 == 0, c: x0 + x2 >= 1; minimise x0 + x1 + x2."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 4))
    m.columns = Columns()
    start = m.columns.add(m.x)
    rows = np.array([0, 0, 1, 1, 2, 2])
    positions = start + np.array([0, 1, 1, 2, 0, 2])
    coefs = np.array([1.0, 2.0, 1.0, -1.0, 1.0, 1.0])
    matrix = entries_to_rows(3, [(rows, positions, coefs)], [-math.inf, 0, 1], [3, 0, math.inf])
    m.rows = Rows(["a", "b", "c"], matrix, m.columns)
    m.cost = pyo.Objective(expr=sum(m.x.values()))
    return m


def _dense(model: pyo.ConcreteModel, fast: bool) -> tuple[list, np.ndarray, list[float], list[int]]:
    """(column names, A, rhs, kinds) by the fast reader or by Pyomo's compiler."""
    if fast:
        form = read_linear_form(model)
        assert form is not None
        return [v.name for v in form.columns], form.A.toarray(), list(form.rhs), [int(k) for k in form.kinds]
    ref = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    return [v.name for v in ref.columns], ref.A.toarray(), list(ref.rhs), [kind for _, kind in ref.rows]


def test_a_family_reads_the_same_by_the_fast_reader_and_by_pyomo() -> None:
    fast = _dense(_model(), fast=True)
    pyomo = _dense(_model(), fast=False)
    assert fast[0] == pyomo[0] == ["x[0]", "x[1]", "x[2]"]
    assert np.array_equal(fast[1], pyomo[1])
    assert fast[1].tolist() == [[1, 2, 0], [0, 1, -1], [1, 0, 1]]
    assert fast[2] == pyomo[2] == [3, 0, 1]
    assert fast[3] == pyomo[3] == [1, 0, -1]


def test_each_row_is_a_constraint_with_its_own_expression_and_value() -> None:
    m = _model()
    assert [c.name for c in m.component_data_objects(pyo.Constraint)] == ["rows[a]", "rows[b]", "rows[c]"]
    for v, value in zip(m.x.values(), (1.0, 2.0, 3.0), strict=True):
        v.set_value(value)
    assert pyo.value(m.rows["a"].body) == 5.0
    assert (m.rows["a"].lb, m.rows["a"].ub) == (None, 3.0)
    assert m.rows["b"].equality and m.rows["b"].lb == m.rows["b"].ub == 0.0
    assert (m.rows["c"].lb, m.rows["c"].ub) == (1.0, None)
    assert m.rows["c"]() == 4.0
    assert not m.rows.touched  # reading a row does not change it


def test_pyomo_writes_the_rows_to_an_lp_file(tmp_path) -> None:
    m = _model()
    path = tmp_path / "model.lp"
    m.write(str(path), io_options={"symbolic_solver_labels": True})
    text = path.read_text()
    for name in ("rows(a)", "rows(b)", "rows(c)"):
        assert name in text


def test_a_changed_row_is_read_as_changed_by_both_readers() -> None:
    m = _model()
    m.rows["a"].set_value(m.x[0] + m.x[1] <= 2)
    assert m.rows.touched
    fast, pyomo = _dense(m, fast=True), _dense(m, fast=False)
    assert fast[1][0].tolist() == pyomo[1][0].tolist() == [1, 1, 0]
    assert fast[2][0] == pyomo[2][0] == 2


def test_a_row_switched_off_is_left_out_by_both_readers() -> None:
    m = _model()
    m.rows["b"].deactivate()
    assert m.rows.touched
    fast, pyomo = _dense(m, fast=True), _dense(m, fast=False)
    assert fast[1].shape == pyomo[1].shape == (2, 3)
    assert fast[2] == pyomo[2] == [3, 1]


def test_a_ranged_row_goes_to_pyomos_compiler() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(0, 4))
    m.columns = Columns()
    m.columns.add(m.x)
    m.rows = Rows([0], entries_to_rows(1, [(np.zeros(2), np.arange(2), 1.0)], 1, 3), m.columns)
    m.cost = pyo.Objective(expr=m.x[0])
    assert read_linear_form(m) is None
    compiled = compile_model(m)
    # Pyomo's compiler writes 1 <= x0 + x1 <= 3 as two rows, one for each side
    assert sorted(zip(compiled.row_lower.tolist(), compiled.row_upper.tolist())) == [(-math.inf, 3.0), (1.0, math.inf)]


def test_a_family_takes_no_rows_after_it_is_built() -> None:
    m = _model()
    with pytest.raises(KeyError):
        m.rows["d"] = m.x[0] <= 1  # not one of the family's keys
    with pytest.raises(TypeError, match="holds the rows it was built with"):
        del m.rows["a"]


def test_entries_keep_the_order_of_their_groups_within_each_row() -> None:
    first = (np.array([1, 0]), np.array([10, 11]), np.array([1.0, 2.0]))
    second = (np.array([0, 1]), np.array([12, 13]), -1.0)
    matrix = entries_to_rows(2, [first, second], -math.inf, 0)
    assert matrix.indptr.tolist() == [0, 2, 4]
    assert matrix.indices.tolist() == [11, 12, 10, 13]
    assert matrix.data.tolist() == [2.0, -1.0, 1.0, -1.0]
    assert matrix.upper.tolist() == [0.0, 0.0] and matrix.lower.tolist() == [-math.inf, -math.inf]


def test_pprint_shows_every_row() -> None:
    out = io.StringIO()
    _model().rows.pprint(ostream=out)
    assert out.getvalue().count("x[") >= 6


def test_a_cloned_or_pickled_model_keeps_its_rows_on_its_own_variables() -> None:
    import pickle

    m = _model()
    for copy in (m.clone(), pickle.loads(pickle.dumps(m))):
        assert copy.rows.columns.vars[0] is copy.x[0]
        assert np.array_equal(_dense(copy, fast=True)[1], _dense(m, fast=True)[1])


@pytest.mark.parametrize("change", ["add", "delete", "delete made"])
def test_variables_added_or_deleted_after_numbering_send_the_model_to_pyomo(change: str) -> None:
    # Positions in the arrays would point at the wrong variables: both readers must still agree.
    m = pyo.ConcreteModel()
    m.columns = Columns()
    if change == "delete made":  # a ColumnVar's variables, made when x[0] is deleted
        m.x = ColumnVar([0, 2, 3], bounds=(0, 4))
        start = m.columns.make(m.x)
    else:
        m.x = pyo.Var(range(4), dense=False, bounds=(0, 4))
        for k in (0, 2, 3):
            m.x[k].setlb(0)  # touching an index of a sparse Var makes it
        start = m.columns.add(m.x)  # x[0], x[2], x[3]
    m.rows = Rows(["a"], entries_to_rows(1, [(np.zeros(1), np.array([start + 1]), 1.0)], -math.inf, 3), m.columns)
    if change == "add":
        m.x[1].setlb(0)
    else:
        del m.x[0]
    m.cost = pyo.Objective(expr=sum(m.x.values()))
    assert read_linear_form(m) is None
    compiled = compile_model(m)  # Pyomo's compiler: the row is x[2] <= 3
    (row,) = compiled.matrix.toarray()
    assert [v.name for v, a in zip(compiled.columns, row, strict=True) if a] == ["x[2]"]


def test_a_familys_arrays_are_read_only_and_a_cleared_family_goes_to_pyomo() -> None:
    m = _model()
    with pytest.raises(ValueError):
        m.rows.upper[0] = 7.0  # a row is changed with set_value, which Pyomo's readers see too
    m.rows.clear()
    assert read_linear_form(m) is None
    assert compile_model(m).matrix.shape[0] == 0


def test_a_row_cannot_refer_to_a_variable_columns_has_not_numbered() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2))
    m.columns = Columns()
    m.columns.add(m.x)
    for position in (-1, 2):
        with pytest.raises(ValueError, match="not numbered"):
            Rows([0], entries_to_rows(1, [(np.zeros(1), np.array([position]), 1.0)], 0, 0), m.columns)


def _state(var) -> tuple:
    """Everything a variable holds, as Pyomo's own construction would leave it."""
    return (var.index(), var.name, VAR_LB(var), VAR_UB(var), var.domain, var.value, var.fixed, var.stale)


@pytest.mark.parametrize(
    ("declared", "upper"),
    [
        ({"bounds": (0, 1)}, None),
        ({"bounds": (0, 1)}, [0.25, 1.0, 0.5]),
        ({"domain": pyo.Binary}, None),
        ({"domain": pyo.NonNegativeIntegers}, [3, 7, 1]),
        ({"bounds": (0, 2), "initialize": 1.5}, None),
    ],
)
def test_made_variables_are_those_pyomo_would_make(declared: dict, upper: list | None) -> None:
    keys = [(4, 0), (4, 1), (9, 0)]
    theirs = pyo.ConcreteModel()
    theirs.v = pyo.Var(pyo.SetOf(keys), **declared)
    for var, bound in zip(theirs.v.values(), upper or [], strict=False):
        var.setub(bound)
    ours = pyo.ConcreteModel()
    ours.v = ColumnVar(pyo.SetOf(keys), **declared)
    ours.columns = Columns()
    assert ours.columns.make(ours.v, upper) == 0
    assert [_state(v) for v in ours.v.values()] == [_state(v) for v in theirs.v.values()]
    assert all(v.parent_component() is ours.v for v in ours.v.values())
    assert ours.columns.vars == list(ours.v.values())
    assert len(ours.v) == 3 and (9, 0) in ours.v and list(ours.v.keys()) == keys


def test_made_variables_are_those_of_the_keys_when_numbered_whatever_happens_to_the_list() -> None:
    keys = [(1, 0), (2, 0)]
    m = pyo.ConcreteModel()
    m.columns = Columns()
    m.v = ColumnVar(pyo.SetOf(keys), bounds=(0, 1))
    assert m.columns.make(m.v) == 0
    keys.append((3, 0))  # the SetOf sees it; the variables numbered are the two listed at make
    assert [v.index() for v in m.v.values()] == [(1, 0), (2, 0)]
    assert len(m.columns.vars) == m.columns.size == 2


def test_make_refuses_a_dense_var_and_a_wrong_number_of_bounds() -> None:
    m = pyo.ConcreteModel()
    m.columns = Columns()
    m.plain = pyo.Var(range(2), dense=False)
    with pytest.raises(TypeError, match="ColumnVar"):
        m.columns.make(m.plain)
    m.dense = ColumnVar(range(2), dense=True)
    with pytest.raises(ValueError, match="dense=False"):
        m.columns.make(m.dense)
    m.sparse = ColumnVar(range(2))
    with pytest.raises(ValueError, match="1 upper bounds for 2"):
        m.columns.make(m.sparse, [1.0])
    m.empty = ColumnVar(pyo.SetOf([]))
    assert m.columns.make(m.empty) == 0 and len(m.empty) == 0


@pytest.mark.parametrize(
    "declared",
    [
        {"bounds": {1: (0, 1), 2: (0, 5)}},
        {"domain": lambda m, i: pyo.Binary if i == 1 else pyo.NonNegativeReals},
        {"initialize": {1: 0.5, 2: 2.0}},
    ],
)
def test_make_refuses_rules_that_differ_by_index(declared: dict) -> None:
    # Pyomo calls such a rule for each index; make copies the first variable, so it would be wrong.
    # (Values given by index make Pyomo create those variables at once: not make's to make.)
    m = pyo.ConcreteModel()
    m.columns = Columns()
    m.v = ColumnVar([1, 2], **declared)
    with pytest.raises(ValueError, match="one domain, bounds and value|make its variables here only"):
        m.columns.make(m.v)


def _objective(model: pyo.ConcreteModel, fast: bool) -> tuple[list[str], list[float], float]:
    """(column names, the objective's coefficients, its constant) by the fast reader or by Pyomo's compiler."""
    form = read_linear_form(model) if fast else LinearStandardFormCompiler().write(model, mixed_form=True)
    assert form is not None
    return [v.name for v in form.columns], form.c.toarray()[0].tolist(), float(form.c_offset[0])


def test_a_sum_made_by_columns_reads_the_same_from_its_arrays_and_term_by_term() -> None:
    m = pyo.ConcreteModel()
    m.y = pyo.Var(range(2), bounds=(0, 1))  # declared first, met second
    m.x = pyo.Var(range(3), bounds=(0, 4))
    m.columns = Columns()
    y, x = m.columns.add(m.y), m.columns.add(m.x)
    matrix = entries_to_rows(1, [(np.zeros(3), x + np.arange(3), 1.0)], -math.inf, 3)
    m.rows = Rows(["a"], matrix, m.columns)
    # x[2], y[1], x[0] with a repeated x[2] and a zero left out: 2 x[2] + 3 y[1] - x[0] + 0 y[0] + x[2]
    spend = m.columns.linear(np.array([x + 2, y + 1, x, y, x + 2]), np.array([2.0, 3.0, -1.0, 0.0, 1.0]))
    assert len(spend.args) == 4 and id(spend) in m.columns.sums
    m.cost = pyo.Objective(expr=spend)
    fast, pyomo = _objective(m, fast=True), _objective(m, fast=False)
    assert fast == pyomo == (["x[0]", "x[1]", "x[2]", "y[1]"], [-1.0, 0.0, 3.0, 3.0], 0.0)
    # The fast reader takes the remembered arrays, not the terms: doubled there, doubled in its reading.
    expr, positions, coefs = m.columns.sums[id(spend)]
    m.columns.sums[id(spend)] = (expr, positions, 2 * coefs)
    assert _objective(m, fast=True)[1] == [-2.0, 0.0, 6.0, 6.0]
    m.columns.sums[id(spend)] = (expr, positions, coefs)
    # A new expression made from it is not the remembered one: read term by term, as Pyomo reads it.
    m.cost.set_value(spend + 2 * m.y[0] + 5)
    fast, pyomo = _objective(m, fast=True), _objective(m, fast=False)
    assert fast == pyomo and fast[0] == ["x[0]", "x[1]", "x[2]", "y[0]", "y[1]"] and fast[2] == 5.0


def _terms_made(expr) -> bool:
    """Whether a ``Columns.linear`` sum has made its terms (its ``_args_`` slot is filled)."""
    try:
        object.__getattribute__(expr, "_args_")
    except AttributeError:
        return False
    return True


def test_reading_makes_no_row_objects_and_the_first_question_makes_them_all() -> None:
    m = _model()
    assert not m.rows.rows_made
    assert read_linear_form(m) is not None and compile_model(m).matrix.shape == (3, 3)
    release(m)  # freeing the model must not make them either
    assert not m.rows.rows_made
    m = _model()
    assert len(m.rows) == 3 and m.rows.rows_made  # any question at all: Pyomo's __len__ reads _data
    assert [r.name for r in read_linear_form(m).constraints] == ["rows[a]", "rows[b]", "rows[c]"]
    # Rows made and then removed: the arrays no longer say which rows exist, Pyomo's compiler reads it
    del component_data(m.rows)["b"]
    assert read_linear_form(m) is None


def test_a_sum_makes_its_terms_only_when_something_reads_them_term_by_term() -> None:
    m = _model()
    spend = m.columns.linear(np.array([2, 0]), np.array([4.0, 1.0]))
    m.cost.set_value(spend)
    assert type(spend).__name__ == "LazyLinear" and spend.__class__ is LinearExpression
    assert _objective(m, fast=True)[1] == [1.0, 0.0, 4.0] and not _terms_made(spend)
    # Pyomo's own readers dispatch on __class__ and ask for the terms: it reads them as it reads any sum
    assert _objective(m, fast=False)[1] == [1.0, 0.0, 4.0] and _terms_made(spend)
    assert str(spend) == "4.0*x[2] + x[0]" and spend.nargs() == 2
    m.x[0].value, m.x[2].value = 1.0, 0.5
    assert pyo.value(spend) == 3.0
    # a copy Pyomo makes of it is an ordinary sum of the same terms
    clone = m.clone()
    assert str(clone.cost.expr) == "4.0*x[2] + x[0]" and pyo.value(clone.cost.expr) == 3.0


def _made_model() -> pyo.ConcreteModel:
    """_model's rows (c with n[1] too) over ColumnVars: x[0..2], upper bounds 4, 2.5, 4; n[0..1] integer in [0, 3]."""
    m = pyo.ConcreteModel()
    m.columns = Columns()
    m.x = ColumnVar(range(3), bounds=(0, 4))
    start = m.columns.make(m.x, [4, 2.5, 4])
    m.n = ColumnVar(range(2), domain=pyo.NonNegativeIntegers, bounds=(0, 3))
    n = m.columns.make(m.n)
    rows = np.array([0, 0, 1, 1, 2, 2, 2])
    positions = np.array([start, start + 1, start + 1, start + 2, start, start + 2, n + 1])
    matrix = entries_to_rows(
        3, [(rows, positions, np.array([1.0, 2, 1, -1, 1, 1, 1]))], [-math.inf, 0, 1], [3, 0, math.inf]
    )
    m.rows = Rows(["a", "b", "c"], matrix, m.columns)
    m.cost = pyo.Objective(expr=m.columns.linear(np.arange(5), np.ones(5)))
    return m


def test_compiling_makes_no_variable_and_reads_the_bounds_they_will_have() -> None:
    m = _made_model()
    assert read_linear_form(m) is not None  # the fast reader reads it
    compiled = compile_model(m)
    assert m.x.pending is not None and m.n.pending is not None  # nothing made yet
    pending = (compiled.col_lower, compiled.col_upper, compiled.integrality)
    assert [a.tolist() for a in pending] == [[0, 0, 0, 0, 0], [4, 2.5, 4, 3, 3], [0, 0, 0, 1, 1]]
    # the same, read from the variables once they are made (by listing the columns)
    names = [v.name for v in compiled.columns]
    assert m.x.pending is None and names == ["x[0]", "x[1]", "x[2]", "n[0]", "n[1]"]
    made = column_bounds(list(compiled.columns))
    assert all(np.array_equal(a, b) for a, b in zip(made, pending, strict=True))
    assert [v.bounds for v in m.x.values()] == [(0, 4), (0, 2.5), (0, 4)]


def test_a_variable_asked_for_makes_its_components_and_pyomo_then_reads_the_same() -> None:
    m = _made_model()
    m.n[1].fix(2)  # indexing makes n's variables; a fixed one sends the model to Pyomo's compiler
    assert m.n.pending is None and m.x.pending is not None
    assert read_linear_form(m) is None
    compiled = compile_model(m)
    assert [v.name for v in compiled.columns] == ["x[0]", "x[1]", "x[2]", "n[0]"]
    assert compiled.col_upper.tolist() == [4, 2.5, 4, 3] and compiled.row_lower.tolist()[-1] == -1  # 1 - n[1]


def test_upper_bounds_given_as_an_array_are_read_at_once_and_made_as_python_floats() -> None:
    m = pyo.ConcreteModel()
    m.columns = Columns()
    m.x = ColumnVar(range(3), bounds=(0, 4))
    upper = np.array([4.0, 2.5, 1.0])
    m.columns.make(m.x, upper)
    upper[:] = 0.0  # the bounds given are the bounds kept, whatever the caller's array does next
    m.rows = Rows(["a"], entries_to_rows(1, [(np.zeros(3), np.arange(3), 1.0)], 1, math.inf), m.columns)
    compiled = compile_model(m)
    assert compiled.col_upper.tolist() == [4.0, 2.5, 1.0] and m.x.pending is not None
    assert [v.ub for v in m.x.values()] == [4.0, 2.5, 1.0]
    assert all(type(VAR_UB(v)) is float for v in m.x.values())


@pytest.mark.parametrize("upper", [[math.inf, 5.0], np.array([math.inf, 5.0])], ids=["list", "array"])
def test_a_bound_that_is_not_a_finite_number_is_read_from_the_made_variables(upper) -> None:
    m = pyo.ConcreteModel()
    m.columns = Columns()
    m.x = ColumnVar(range(2), bounds=(0, None))
    m.columns.make(m.x, upper)
    m.rows = Rows(["a"], entries_to_rows(1, [(np.zeros(2), np.arange(2), 1.0)], 1, math.inf), m.columns)
    compiled = compile_model(m)
    assert compiled.col_upper.tolist() == [math.inf, 5.0] and m.x.pending is None


def test_a_model_with_pending_variables_and_sums_is_freed_without_the_cycle_collector() -> None:
    import gc
    import weakref

    gc.disable()
    try:
        m = _made_model()
        compile_model(m)
        columns, x = weakref.ref(m.columns), weakref.ref(m.x)
        release(m)
        del m
        assert columns() is None and x() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_a_sum_whose_model_is_gone_says_so_when_its_terms_are_asked_for() -> None:
    m = _made_model()
    spend = m.columns.linear(np.arange(2), np.ones(2))
    release(m)
    del m
    with pytest.raises(ReferenceError, match="model this sum was made in is gone"):
        spend.nargs()


def test_a_model_with_a_sum_pickles_as_ordinary_sums() -> None:
    import pickle

    m = _made_model()  # its objective is a Columns.linear sum
    copy = pickle.loads(pickle.dumps(m))
    assert str(copy.cost.expr) == str(m.cost.expr) == "x[0] + x[1] + x[2] + n[0] + n[1]"
    assert copy.cost.expr.__class__ is LinearExpression


def test_clearing_a_pending_var_makes_its_variables_first_and_the_model_goes_to_pyomo() -> None:
    m = _made_model()
    m.n.clear()  # Pyomo's clear() replaces _data: the variables as numbered are made first
    assert m.n.pending is None and len(m.n) == 0
    c = m.columns.components.index(m.n)
    assert [VAR_INDEX(v) for v in m.columns.variables(c)] == [
        0,
        1,
    ]  # positions as numbered (orphans, as after Pyomo's clear)
    assert read_linear_form(m) is None  # numbered variables no longer in their component


def test_a_sum_cannot_refer_to_a_variable_columns_has_not_numbered() -> None:
    m = _made_model()
    with pytest.raises(ValueError, match="not numbered"):
        m.columns.linear(np.array([0, 5]), np.ones(2))
    with pytest.raises(ValueError, match="made already"):
        m.columns.make(m.x)
