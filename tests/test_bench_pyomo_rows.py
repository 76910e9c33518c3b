"""bench.pyomo_rows: the ways of building rows it times all build the same rows (a benchmark tool)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from bench import pyomo_rows
from solvers.highs import compile_model


def test_every_pyomo_way_builds_the_same_matrix(monkeypatch):
    monkeypatch.setattr(pyomo_rows, "N", 40)
    matrices = []
    for build in (pyomo_rows.dict_rule, pyomo_rows.expressions, pyomo_rows.rows):
        model = build()
        model.cost = pyo.Objective(expr=sum(model.x.values()) + sum(model.y.values()))
        compiled = compile_model(model)
        matrices.append(compiled.matrix.toarray())
        assert compiled.row_upper.tolist() == [0.0] * 40
    assert matrices[0].shape == (40, 80)
    assert all(np.array_equal(matrices[0], m) for m in matrices[1:])
    assert len(pyomo_rows.kernel().c) == 40
