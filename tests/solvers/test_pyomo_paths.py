"""The engine's fast reader of its Pyomo model and Pyomo's own compiler give the same answers."""

from __future__ import annotations

import pytest

from service.examples import example_request
from solvers import allocate
from solvers.build import linear_form
from solvers.build.program import create_model, release
from solvers.prepare.instance import prepare
from solvers.solve.highs import compile_model


@pytest.fixture
def compiler_only(monkeypatch):
    monkeypatch.setattr(linear_form, "FAST_PATH", False)


def compiled_by(request):
    model = create_model(prepare(request))
    try:
        return compile_model(model)
    finally:
        release(model)


def test_switching_the_fast_path_off_compiles_with_pyomo(compiler_only):
    assert compiled_by(example_request("dla-2025")).numbering is None  # only the fast reader numbers columns


def test_both_paths_compile_the_same_program(monkeypatch):
    request = example_request("dla-2025")
    monkeypatch.setattr(linear_form, "FAST_PATH", True)  # whatever STOCKPILE_PYOMO_FAST_PATH says
    fast, a = compiled_by(request), allocate(request)
    monkeypatch.setattr(linear_form, "FAST_PATH", False)
    slow, b = compiled_by(request), allocate(request)
    assert fast.numbering is not None and slow.numbering is None
    assert fast.matrix.shape == slow.matrix.shape and fast.matrix.nnz == slow.matrix.nnz
    assert sorted(fast.cost) == pytest.approx(sorted(slow.cost))
    assert a.coverage_score == pytest.approx(b.coverage_score, abs=1e-9)
    assert a.total_spend == pytest.approx(b.total_spend, rel=1e-9)
