"""What ``allocate`` leaves behind: nothing for the cycle collector to find."""

from __future__ import annotations

import gc
import weakref

import pytest

import solvers.engine as engine_module
from solvers import allocate
from tests.builders import mineral, offer, request


@pytest.mark.parametrize("objective", ["max_coverage", "min_cost"])
def test_the_pyomo_model_is_freed_when_allocate_returns(monkeypatch, objective):
    # Freed by reference counting as allocate returns, not left to the next garbage
    # collection (whose pass over the model would land inside the caller's next call).
    models: list[weakref.ref] = []
    real = engine_module.create_model

    def recording(instance):
        model = real(instance)
        models.append(weakref.ref(model))
        return model

    monkeypatch.setattr(engine_module, "create_model", recording)
    req = request(1_000, [mineral(target=50)], [offer("a", 10, 40, fixed_cost=50), offer("b", 12, 40)], objective)
    enabled = gc.isenabled()
    gc.disable()
    try:
        allocate(req)
        assert models and all(ref() is None for ref in models)
    finally:
        if enabled:
            gc.enable()


def test_the_diagnosis_model_is_freed_too(monkeypatch):
    # An infeasible request builds a second model, the elastic one that explains it.
    import solvers.report.diagnose as diagnose_module

    models: list[weakref.ref] = []
    for module in (engine_module, diagnose_module):
        real = module.create_model

        def recording(instance, elastic_floors=False, real=real):
            model = real(instance, elastic_floors)
            models.append(weakref.ref(model))
            return model

        monkeypatch.setattr(module, "create_model", recording)
    req = request(1_000, [mineral(target=50, min_quantity=90)], [offer("a", 10, 40), offer("b", 12, 40)])
    enabled = gc.isenabled()
    gc.disable()
    try:
        result = allocate(req)
        assert result.status.value == "infeasible"
        assert any(f.code == "floor_unmet" for f in result.diagnostics)
        assert len(models) == 2 and all(ref() is None for ref in models)
    finally:
        if enabled:
            gc.enable()
