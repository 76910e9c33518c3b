"""The model builder leaves out rows the others imply, and only those (docs/formulation.md)."""

from __future__ import annotations

import pytest

from solvers import allocate, check_result
from solvers.build.program import create_model
from solvers.prepare.instance import prepare
from tests import brute_force
from tests.builders import mineral, offer, request, tiers


def _request(objective: str = "min_cost"):
    # 100 t wanted, no offer above 60% of the total. "small" (40 t) can never break the
    # share once the floor of 100 t is met; "big" (90 t) can.
    return request(
        50_000,
        [mineral("co", 100)],
        [
            offer("small", 10, 40),
            offer("big", 12, 90),
            offer("bulk", None, 80, discount="all_units", price_tiers=tiers((30, 11), (None, 9))),
            offer("steps", None, 70, price_tiers=tiers((20, 13), (40, 9), (None, 8))),
        ],
        objective=objective,
        policy={"max_supplier_share": 0.6},
    )


def _offer_rows(model, name: str) -> set:
    offers = model.instance.offers
    return {offers[key if isinstance(key, int) else key[0]].offer.id for key in getattr(model, name).index_set()}


def test_share_rows_are_written_only_where_the_floor_does_not_imply_them():
    model = create_model(prepare(_request()))
    assert _offer_rows(model, "supplier_share") == {"big", "bulk", "steps"}


@pytest.mark.parametrize("objective", ["min_cost", "max_coverage"])
def test_elastic_floors_and_floorless_models_keep_every_share_row(objective):
    instance = prepare(_request(objective))
    model = create_model(instance, elastic_floors=objective == "min_cost")
    assert _offer_rows(model, "supplier_share") == {"small", "big", "bulk", "steps"}


def test_all_units_offers_have_no_usage_link_and_no_lower_row_for_a_tier_from_zero():
    model = create_model(prepare(_request()))
    assert "bulk" not in _offer_rows(model, "use_link")
    assert "bulk" in _offer_rows(model, "tier_pick")
    assert [k for (_, k) in model.tier_low.index_set()] == [1]  # bulk's second tier, from 30 t
    assert not hasattr(model, "tier_chain")  # z[i, k] <= z[i, k-1] follows from tier k-1's rows


@pytest.mark.parametrize("objective", ["min_cost", "max_coverage"])
@pytest.mark.parametrize("budget", [1_000, 950, 1_400, 50_000])
def test_the_leaner_model_still_finds_the_exact_optimum(objective, budget):
    req = _request(objective).model_copy(update={"budget": budget})
    expected = brute_force.solve(req)
    result = allocate(req)
    assert check_result(req, result) == []
    if expected is None:
        assert result.status.value == "infeasible"
        return
    assert result.status.value == "optimal"
    if objective == "max_coverage":
        assert result.coverage_score == pytest.approx(expected.score, abs=1e-6)
    assert result.total_spend == pytest.approx(expected.spend, abs=1e-6 * budget)


def test_a_column_the_model_did_not_number_has_no_offer():
    import dataclasses

    import pyomo.environ as pyo

    from solvers.build.program import column_offers
    from solvers.solve.highs import compile_model

    model = create_model(prepare(_request()))
    seg = next(iter(model.seg.values()))
    model.extra = pyo.Var(bounds=(0, 1))
    model.extra_row = pyo.Constraint(expr=model.extra + seg <= 1)
    compiled = compile_model(model)
    assert compiled.numbering is model.columns  # read by the engine's reader, positions known
    owners = column_offers(model, compiled)
    names = [v.name for v in compiled.columns]
    assert owners[names.index("extra")] == -1
    assert owners[names.index(seg.name)] == seg.index()[0] >= 0
    # Without positions (a model compiled by Pyomo's compiler), the same owners, found by identity.
    unknown = dataclasses.replace(compiled, numbering=None, positions=None)
    assert column_offers(model, unknown).tolist() == owners.tolist()


def test_country_cap_rows_list_each_capped_minerals_offers_from_its_countries_in_order():
    from solvers.build.program import country_cap_rows

    countries = ["AU", "CA", "AU", "BR", "CA", "AU", "BR", "CA"]
    minerals = ["co", "sb", "co", "sb", "co", "ta", "co", "sb"]
    req = request(
        1e6,
        [mineral("co"), mineral("sb"), mineral("ta")],
        [offer(f"o{i}", 10 + i, 50, mineral=m, country=c) for i, (c, m) in enumerate(zip(countries, minerals))],
        policy={
            "country_caps": [
                {"countries": ["AU", "BR"], "max_share": 0.5},
                {"countries": ["CA"], "max_share": 1.0},  # caps nothing: no rows
                {"countries": ["CA", "AU"], "max_share": 0.3, "minerals": ["sb", "ta"]},
            ]
        },
    )
    instance = prepare(req)
    rows = country_cap_rows(instance)
    # the plain rule, mineral by mineral: the offers (positions in instance.offers) from the cap's countries
    table = instance.offers.table
    country = [table.country_names[k] for k in table.country]
    expected = []
    for c, cap in enumerate(req.policy.country_caps):
        for j, md in enumerate(instance.minerals):
            capped = [i for i in md.offers if country[i] in cap.countries]
            if capped and cap.max_share < 1 and (cap.minerals is None or md.mineral.id in cap.minerals):
                expected.append((c, j, capped))
    assert rows == expected
    assert [(c, j) for c, j, _ in rows] == [(0, 0), (0, 1), (0, 2), (2, 1), (2, 2)]


def test_tier_keys_answer_as_the_list_of_their_tuples_would():
    import numpy as np

    from solvers.build.program import TierKeys

    offer, tier = np.array([0, 0, 3, 7, 7, 7]), np.array([1, 2, 0, 0, 1, 4])
    keys = TierKeys(offer, tier)
    listed = list(zip(offer.tolist(), tier.tolist(), strict=True))
    assert len(keys) == 6 and keys[0] == (0, 1) and keys[-1] == (7, 4) and keys[1:3] == listed[1:3]
    listed_or_not = [(0, 1), (7, 4), (3, 0), (0, 0), (3, 1), (7, 5), (8, 0), (-1, 1), (0, -1)]
    asked = [*listed_or_not, (0, 1.0), (10**30, 0), "x", (0, 1, 2)]
    assert [key in keys for key in asked] == [key in listed for key in asked]
    assert [keys.index(key) for key in listed] == list(range(6)) and keys.count((7, 1)) == 1
    with pytest.raises(ValueError):
        keys.index((3, 1))
    assert keys.index((7, 0), 2, 4) == listed.index((7, 0), 2, 4) == 3 and keys.index((7, 4), -1) == 5
    with pytest.raises(ValueError):
        keys.index((0, 1), 1)  # before start, as list.index((0, 1), 1) says
    assert list(keys) == listed and list(reversed(keys)) == listed[::-1] and repr(keys) == repr(listed)
    with pytest.raises(ValueError, match="increasing"):
        TierKeys(np.array([1, 0]), np.array([0, 0]))
    assert (0, 0) not in TierKeys(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def test_solving_makes_no_tier_key_tuple_and_pyomo_still_names_the_variables_by_them():
    from solvers.build import program as build
    from solvers.build.pyomo_door import setof_sequence

    model = create_model(prepare(_request()))
    allocate(_request())
    assert setof_sequence(model.seg.index_set())._listed is None  # built and compiled from the arrays alone
    assert [(i, k) for i, k in model.seg.index_set()] == [(2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
    assert model.seg[3, 2].name == "seg[3,2]" and isinstance(setof_sequence(model.seg.index_set()), build.TierKeys)
