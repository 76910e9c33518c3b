"""Resolver: every answer equals a fresh ``allocate`` of the same request, in place or rebuilt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models import AllocationRequest, AllocationResult, Objective, Status
from solvers import EngineTuning, Resolver, allocate, check_result
from solvers.build.program import SCORE_ROW_SCALE, create_model, formulate
from solvers.prepare.instance import prepare
from solvers.resolve import _same, _structure
from solvers.solve import highs as highs_module
from solvers.solve.highs import HeldModel, compile_model, next_stage
from tests.builders import mineral, offer, request
from tests.strategies import COUNTRIES, requests

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
DLA = Path(__file__).resolve().parents[2] / "service" / "examples" / "dla-2025.json"


def assert_same_answer(got: AllocationResult, fresh: AllocationResult, req: AllocationRequest) -> None:
    """Same status; score within 1e-6 and spend within 1e-6 relative at that score; checked against ``req``."""
    assert got.status is fresh.status
    assert check_result(req, got) == []
    if not got.status.has_allocation:
        assert got.allocations == []
        assert [f.code for f in got.diagnostics] == [f.code for f in fresh.diagnostics]
        return
    if req.objective is Objective.MAX_COVERAGE:
        assert got.coverage_score == pytest.approx(fresh.coverage_score, abs=1e-6)
    assert got.total_spend == pytest.approx(fresh.total_spend, rel=1e-6, abs=1e-6)


# --- changes: each turns a request (as a dict) into a variant; None when it does not apply -----


def _scale_prices(body: dict, factor: float, mineral_id: str | None, offer_index: int | None) -> None:
    for k, o in enumerate(body["suppliers"]):
        if (mineral_id is None or o["mineral"] == mineral_id) and (offer_index is None or k == offer_index):
            if o.get("unit_price") is not None:
                o["unit_price"] *= factor
            for tier in o.get("price_tiers") or []:
                tier["unit_price"] *= factor


def _scale_capacity(body: dict, factor: float, offer_index: int) -> None:
    o = body["suppliers"][offer_index % len(body["suppliers"])]
    o["capacity"] *= factor


@st.composite
def changes(draw, structural: bool = True) -> tuple[str, Any]:
    """One change, as (kind, its numbers); ``apply`` makes it."""
    kinds = [
        "budget",
        "prices",
        "offer_price",
        "capacity",
        "exclude",
        "tariff",
        "tariff_off",
        "cap_share",
        "supplier_share",
        "target",
        "weight",
        "max_spend",
        "min_quantity",
        "max_quantity",
    ]
    if structural:
        kinds += ["objective", "drop_offer", "max_suppliers"]
    kind = draw(st.sampled_from(kinds))
    return kind, (
        draw(st.sampled_from([0.3, 0.6, 0.9, 1.3, 2.0, 4.0])),
        draw(st.integers(0, 7)),
        draw(st.sampled_from(COUNTRIES)),
    )


def apply(req: AllocationRequest, change: tuple[str, Any]) -> AllocationRequest | None:
    kind, (factor, k, country) = change
    body = req.model_dump(mode="json")
    minerals = body["minerals"]
    m = minerals[k % len(minerals)]
    policy = body["policy"]
    if kind == "budget":
        body["budget"] *= factor
    elif kind == "prices":
        _scale_prices(body, factor, m["id"], None)
    elif kind == "offer_price":
        _scale_prices(body, factor, None, k % len(body["suppliers"]))
    elif kind == "capacity":
        _scale_capacity(body, factor, k)
    elif kind == "exclude":
        policy["excluded_countries"] = sorted({*policy["excluded_countries"], country})
    elif kind == "tariff":
        policy["tariffs"] = {**policy["tariffs"], country: factor / 2}
    elif kind == "tariff_off":
        policy["tariffs"] = {c: r for c, r in policy["tariffs"].items() if c != country}
    elif kind == "cap_share":
        if not policy["country_caps"]:
            return None
        policy["country_caps"][0]["max_share"] = min(1.0, policy["country_caps"][0]["max_share"] * factor)
    elif kind == "supplier_share":
        policy["max_supplier_share"] = min(1.0, factor / 2)
    elif kind in ("target", "max_spend", "max_quantity", "min_quantity"):
        current = m.get(kind)
        m[kind] = (current if current is not None else m["target"] * (50 if kind == "max_spend" else 1)) * factor
        if kind == "max_quantity":
            m[kind] = max(m[kind], m.get("min_quantity") or 0.0)
    elif kind == "weight":
        m["weight"] *= factor
    elif kind == "objective":
        body["objective"] = "min_cost" if body["objective"] == "max_coverage" else "max_coverage"
    elif kind == "drop_offer":
        if len(body["suppliers"]) < 2:
            return None
        del body["suppliers"][k % len(body["suppliers"])]
    elif kind == "max_suppliers":
        policy["max_suppliers"] = None if policy["max_suppliers"] is not None else 1
    try:
        return AllocationRequest.model_validate(body)
    except ValidationError:  # e.g. a min_quantity above the max_quantity: not a variant
        return None


def solve_variants(base: AllocationRequest, sequence: list) -> Resolver:
    """Solve each variant (changes applied one after another) with one Resolver and with ``allocate``."""
    resolver = Resolver(base)
    req = base
    for change in [None, *sequence]:
        variant = req if change is None else apply(req, change)
        if variant is None:
            continue
        req = variant
        assert_same_answer(resolver.solve(req), allocate(req), req)
    return resolver


@PROPERTY
@given(requests(objective="max_coverage"), st.lists(changes(), min_size=1, max_size=4))
def test_every_answer_equals_a_fresh_solve_max_coverage(base, sequence):
    solve_variants(base, sequence)


@PROPERTY
@given(requests(objective="min_cost"), st.lists(changes(), min_size=1, max_size=4))
def test_every_answer_equals_a_fresh_solve_min_cost(base, sequence):
    solve_variants(base, sequence)


@PROPERTY
@given(requests(), changes(structural=False))
def test_the_compiled_model_in_place_is_the_fresh_build_array_for_array(base, change):
    variant = apply(base, change)
    if variant is None:
        return
    resolver = Resolver(base)
    numbers = formulate(prepare(variant))
    held = resolver._models.get(_structure(numbers))
    if held is None:  # the structure changed: a rebuild, nothing to compare
        return
    _, image = held
    assert image.in_place
    assert _same(image.derive(numbers), compile_model(create_model(prepare(variant))))


def dla() -> AllocationRequest:
    return AllocationRequest.model_validate(json.loads(DLA.read_text())["request"])


def test_data_changes_are_solved_in_place_on_one_held_model():
    base = dla()
    resolver = Resolver(base)
    variants = [base.model_copy(update={"budget": base.budget * f}) for f in (0.8, 1.2, 1.5)]
    tariffs = base.policy.model_copy(update={"tariffs": {"CN": 0.5}})
    variants.append(base.model_copy(update={"policy": tariffs}))
    cheaper = [o.model_copy(update={"unit_price": o.unit_price * 0.9}) if o.unit_price else o for o in base.suppliers]
    variants.append(base.model_copy(update={"suppliers": cheaper}))
    for variant in variants:
        assert_same_answer(resolver.solve(variant), allocate(variant), variant)
    assert resolver.stats.solves == len(variants)
    assert resolver.stats.in_place == len(variants) and resolver.stats.rebuilt == 0
    # HiGHS itself was changed in place: one model passed whole (at the first run), none since
    assert resolver._held.passed == 1


def test_a_structure_met_before_is_solved_on_its_held_model_again():
    base = dla()
    resolver = Resolver(base)
    excluded = base.model_copy(update={"policy": base.policy.model_copy(update={"excluded_countries": ["CN"]})})
    sequence = [excluded, base, excluded.model_copy(update={"budget": 8e8}), base.model_copy(update={"budget": 9e8})]
    for variant in sequence:
        assert_same_answer(resolver.solve(variant), allocate(variant), variant)
    assert (resolver.stats.rebuilt, resolver.stats.in_place, resolver.stats.switched) == (1, 3, 3)


def test_a_restarted_resolver_answers_as_a_new_one_with_the_models_it_held():
    base = dla()
    excluded = base.model_copy(update={"policy": base.policy.model_copy(update={"excluded_countries": ["CN"]})})
    run = [excluded, base.model_copy(update={"budget": base.budget * 0.7}), excluded.model_copy(update={"budget": 8e8})]
    used = Resolver(base)
    for variant in [base.model_copy(update={"budget": base.budget * 1.3}), excluded]:
        used.solve(variant)
    used.restart()
    again = [used.solve(v) for v in run]
    fresh = Resolver(base)
    first = [fresh.solve(v) for v in run]
    # the same answers, figure for figure: a run of solves does not depend on the solves before it
    for got, want in zip(again, first, strict=True):
        assert got.model_dump(exclude={"solve_seconds"}) == want.model_dump(exclude={"solve_seconds"})
    # the exclusion's model, held from before the restart, was not built again: all three in place
    assert (fresh.stats.rebuilt, fresh.stats.in_place) == (1, 2)
    assert (used.stats.rebuilt, used.stats.in_place) == (1, 1 + 3)


def test_a_structural_change_rebuilds_and_is_held_from_then_on():
    base = request(
        2_000,
        [mineral("co", 50)],
        [offer("a", 10, 40), offer("b", 12, 40, country="CN", min_order=10), offer("c", 15, 40)],
    )
    resolver = Resolver(base)
    fewer = base.model_copy(update={"suppliers": base.suppliers[:2]})
    assert_same_answer(resolver.solve(fewer), allocate(fewer), fewer)
    assert resolver.stats.rebuilt == 1
    cheaper = fewer.model_copy(update={"budget": 1_500.0})
    assert_same_answer(resolver.solve(cheaper), allocate(cheaper), cheaper)
    assert (resolver.stats.rebuilt, resolver.stats.in_place) == (1, 1)
    other = cheaper.model_copy(update={"objective": Objective.MIN_COST, "budget": 5_000.0})
    assert_same_answer(resolver.solve(other), allocate(other), other)
    assert resolver.stats.rebuilt == 2


def test_an_exclusion_that_leaves_a_floor_unmet_is_infeasible_with_its_diagnostics():
    base = request(
        10_000,
        [mineral("co", 50, min_quantity=40)],
        [offer("a", 10, 30, country="AU"), offer("b", 12, 60, country="CN")],
    )
    resolver = Resolver(base)
    assert resolver.solve(base).status is Status.OPTIMAL
    policy = base.policy.model_copy(update={"excluded_countries": ["CN"]})
    variant = base.model_copy(update={"policy": policy})
    got, fresh = resolver.solve(variant), allocate(variant)
    assert got.status is Status.INFEASIBLE
    assert_same_answer(got, fresh, variant)
    (finding,) = [f for f in got.diagnostics if f.code == "floor_unmet"]
    assert finding.mineral == "co" and finding.shortfall == pytest.approx(10)
    # and back: the held model answers the base again
    assert_same_answer(resolver.solve(base), allocate(base), base)


def test_the_dla_budget_frontier_never_loses_coverage_and_matches_fresh_solves():
    base = dla()
    resolver = Resolver(base, EngineTuning(mip_gap=0.0))
    scores = []
    for f in np.linspace(0.2, 2.0, 7):
        variant = base.model_copy(update={"budget": base.budget * f})
        got = resolver.solve(variant)
        assert_same_answer(got, allocate(variant, EngineTuning(mip_gap=0.0)), variant)
        scores.append(got.coverage_score)
    assert scores == sorted(scores)
    assert resolver.stats.in_place >= 5


def test_each_solve_takes_its_own_options_and_the_resolver_closes():
    base = request(1_000, [mineral("co", 50)], [offer("a", 10, 40), offer("b", 12, 40)])
    resolver = Resolver(base, EngineTuning(time_limit_s=5))
    result = resolver.solve(base, EngineTuning(verify=False))
    assert result.status is Status.OPTIMAL and result.total_spend == pytest.approx(400 + 10 * 12)
    resolver.close()
    with pytest.raises(RuntimeError, match="closed"):
        resolver.solve(base)


def test_a_model_that_cannot_be_changed_in_place_is_rebuilt_for_every_request():
    # No usable offer: the budget row is empty, Pyomo's own compiler reads the model, and
    # no map from recorded entries to compiled ones exists.
    only = [offer("a", 10, 40, country="CN")]
    base = request(1_000, [mineral("co", 50)], only, policy={"excluded_countries": ["CN"]})
    resolver = Resolver(base)
    for variant in (base, base.model_copy(update={"budget": 500.0})):
        assert_same_answer(resolver.solve(variant), allocate(variant), variant)
    assert (resolver.stats.rebuilt, resolver.stats.in_place) == (2, 0)


def test_the_guided_solve_reads_a_model_changed_in_place():
    guided = EngineTuning(guide_min_integers=1)  # every model takes solvers/solve/guide.py's path
    base = request(
        2_000,
        [mineral("co", 50), mineral("ni", 30)],
        [
            offer("a", 10, 40, min_order=10),
            offer("b", 12, 40, fixed_cost=50),
            offer("c", 9, 20, mineral="ni", min_order=5),
            offer("d", 11, 30, mineral="ni"),
        ],
    )
    resolver = Resolver(base, guided)
    for budget in (2_000.0, 800.0, 1_200.0, 500.0):
        variant = base.model_copy(update={"budget": budget})
        assert_same_answer(resolver.solve(variant), allocate(variant, guided), variant)
    assert resolver.stats.in_place == 4


def held_lp(held: HeldModel) -> tuple:
    lp = held.highs.getLp()
    a = lp.a_matrix_
    return (
        np.array(lp.col_cost_),
        np.array(lp.col_lower_),
        np.array(lp.col_upper_),
        np.array(lp.row_lower_),
        np.array(lp.row_upper_),
        np.array(a.start_),
        np.array(a.index_),
        np.array(a.value_),
    )


@pytest.mark.parametrize("limit", [0, 64, 100_000])
def test_the_held_highs_model_is_the_compiled_one_after_each_change(monkeypatch, limit):
    monkeypatch.setattr(highs_module, "CHANGE_LIMIT", limit)  # every way: passed whole, mixed, in place
    base = dla()
    resolver = Resolver(base)
    ((_, image),) = resolver._models.values()
    held = HeldModel()
    settings = EngineTuning().for_request(base).highs(10.0)
    variants = [base.model_copy(update={"budget": base.budget * f}) for f in (1.0, 0.7, 1.3)]
    for variant in variants:
        compiled = image.derive(formulate(prepare(variant)))
        for model in (compiled, next_stage(compiled, 0.5, SCORE_ROW_SCALE)):
            held.take(model, settings)
            A = model.matrix
            expected = (model.cost, model.col_lower, model.col_upper, model.row_lower, model.row_upper)
            expected += (A.indptr, A.indices, A.data)
            for got, want in zip(held_lp(held), expected, strict=True):
                np.testing.assert_array_equal(got, want)
    # stage two adds its row to stage one's model in place; the next budget changes 12 coefficients
    assert (held.passed, held.changed) == ((3, 3) if limit == 0 else (1, 5))
