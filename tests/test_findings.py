"""Findings of solved requests: what limited an allocation, named as the request names it."""

from __future__ import annotations

import numpy as np
import pytest

from models import Status
from solvers import allocate, check_result
from solvers import engine as engine_module
from solvers.highs import SolveOutcome, SolveState
from tests.builders import mineral, offer, request
from tests.fakes import fake_run


def codes(result) -> list[str]:
    return [f.code for f in result.diagnostics]


def test_a_target_met_to_the_solvers_tolerance_is_not_reported_short():
    # No offer may supply more than 88%: HiGHS meets the target to within 4e-9 of it here
    # (8e-8 t short of 19.859671 t), which is no shortfall.
    reqst = request(
        1000,
        [mineral("m", 19.859671)],
        [offer("a", 1.5, 18.889009, "m", "JP"), offer("b", 1.2, 19.834364, "m", "ID")],
        policy={"max_supplier_share": 0.88},
    )
    r = allocate(reqst)
    assert r.status is Status.OPTIMAL
    assert r.coverage_score == pytest.approx(1, abs=1e-6)
    assert "target_not_covered" not in codes(r)
    assert "supplier_share_binding" in codes(r)


def test_max_quantity_is_named_as_what_limits_coverage():
    r = allocate(request(1e6, [mineral("x", 10, max_quantity=4)], [offer("a", 100, 20, "x")]))
    assert r.coverage_score == pytest.approx(0.4)
    (short,) = [f for f in r.diagnostics if f.code == "target_not_covered"]
    assert short.shortfall == pytest.approx(6)
    assert "max_quantity of 4 t is used up" in short.message
    assert "6 t short" in short.message


def test_a_shortfall_too_small_for_one_decimal_is_not_shown_as_100_percent():
    from solvers.report import percent

    assert percent(0.4) == "40.0%"
    assert percent(0.9999) == "99.99%"
    assert percent(0.999998) == "99.9998%"
    assert percent(1.0) == "100.0%"


def _stopped_with(values_of):
    """Stage one stopped at its limit: score 0 found, 1 the bound (the model's own sense: maximise)."""

    def outcome(compiled):
        values = values_of(compiled)
        return SolveOutcome(SolveState.LIMIT_WITH_SOLUTION, 0.0, 1.0, 1.0, 2.0, values, "Time limit reached")

    return outcome


def test_a_search_stopped_by_the_time_limit_says_so_and_does_not_claim_the_best_score(monkeypatch):
    # Stage one stops at its limit holding only the trivial allocation (nothing bought).
    fake_run(monkeypatch, engine_module, 1, _stopped_with(lambda compiled: np.zeros(len(compiled.columns))))
    reqst = request(10_000, [mineral(target=50)], [offer("a", 10, 500), offer("b", 20, 500)])
    r = allocate(reqst)
    assert r.status is Status.FEASIBLE
    assert check_result(reqst, r) == []
    assert r.coverage_score == 0
    (note,) = [f for f in r.diagnostics if f.code == "time_limit_reached"]
    assert "no allocation can score more than 1" in note.message
    assert "least_spend_not_proven" not in codes(r)  # its "best score found" would be untrue
    (short,) = [f for f in r.diagnostics if f.code == "target_not_covered"]
    assert "time limit" in short.message
    assert "minimum order, lot, tier or policy rule" not in short.message


def test_min_cost_stopped_by_the_time_limit_gives_the_least_spend_possible(monkeypatch):
    real = engine_module.solve

    def worse(compiled, *args, **kwargs):  # the optimum, reported as stopped with a lower bound 20% below
        out = real(compiled, *args, **kwargs)
        return SolveOutcome(SolveState.LIMIT_WITH_SOLUTION, out.objective, 0.8 * out.objective, 0.2, 1.0, out.values)

    monkeypatch.setattr(engine_module, "solve", worse)
    reqst = request(10_000, [mineral(target=50)], [offer("a", 10, 500)], objective="min_cost")
    r = allocate(reqst)
    assert r.status is Status.FEASIBLE
    (note,) = [f for f in r.diagnostics if f.code == "time_limit_reached"]
    assert "spend less than $400.00" in note.message
    assert "(gap 20.00%)" in note.message
