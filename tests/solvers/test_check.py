"""The independent check catches every kind of broken allocation.

Allocations are planted by hand: quantities go through the same plain
arithmetic the engine reports with, then the check must name the rule broken.
"""

from __future__ import annotations

import pytest

from models import AllocationRequest, ModelSize, Status
from solvers import SolutionRejected, allocate, check_result
from solvers import engine as engine_module
from solvers.report.result import SolveStats, build_result
from tests.builders import mineral, offer, request, tiers

STATS = SolveStats(Status.OPTIMAL, 0.0, ModelSize(variables=0, binaries=0, integers=0, constraints=0))


def make_request(budget: float = 10_000, co_max_spend: float = 5_000):
    return request(
        budget,
        [mineral("co", 100, min_quantity=10, max_quantity=150, max_spend=co_max_spend), mineral("sb", 50)],
        [
            offer("a", 10, 100, "co", "AU", min_order=20),
            offer("b", 12, 100, "co", "CN", lot_size=25),
            offer("c", None, 100, "sb", "CA", price_tiers=tiers((50, 20), (None, 10))),
            offer("d", 30, 100, "sb", "RU"),
            offer("e", 15, 100, "sb", "US"),
        ],
        policy={
            "excluded_countries": ["RU"],
            "country_caps": [{"countries": ["CN"], "max_share": 0.5}],
            "max_supplier_share": 0.8,
            "max_suppliers": 2,
        },
    )


REQUEST = make_request()
# a: 60 t ($600), b: 2 lots = 50 t ($600, CN 45%), c: 40 t ($800), e: 20 t ($300); $2,300 in all.
SOUND = [60, 50, 40, 0, 20]


def planted(qs: list[float], req=REQUEST):
    return build_result(req, qs, STATS, [])


def rules(result, req=REQUEST) -> set[str]:
    return {v.rule for v in check_result(req, result)}


def test_a_sound_allocation_passes():
    assert rules(planted(SOUND)) == set()


@pytest.mark.parametrize(
    ("quantities", "rule"),
    [
        ([60, 50, 40, 10, 20], "excluded_country"),
        ([60, 50, 120, 0, 20], "capacity"),
        ([10, 25, 40, 0, 20], "min_order"),
        ([60, 40, 40, 0, 20], "lot_size"),
        ([0, 0, 40, 0, 20], "min_quantity"),
        ([100, 75, 40, 0, 20], "max_quantity"),
        ([25, 50, 40, 0, 20], "country_cap"),
        ([100, 0, 40, 0, 20], "max_supplier_share"),
    ],
)
def test_each_broken_rule_is_named(quantities, rule):
    assert rule in rules(planted(quantities))


def test_budget_is_checked():
    req = make_request(budget=2_000)
    assert rules(planted(SOUND, req), req) == {"budget"}


def test_max_spend_is_checked():
    req = make_request(co_max_spend=1_000)
    assert rules(planted(SOUND, req), req) == {"max_spend"}


def test_max_suppliers_is_checked():
    req = request(
        1e6,
        [mineral("co", 100)],
        [offer("a", 10, 100), offer("b", 10, 100), offer("c", 10, 100)],
        policy={"max_suppliers": 2},
    )
    assert "max_suppliers" in rules(planted([30, 30, 30], req), req)


def test_min_cost_targets_are_checked():
    req = request(1e6, [mineral("co", 100)], [offer("a", 10, 200)], objective="min_cost")
    assert rules(planted([90], req), req) == {"target"}


@pytest.mark.parametrize("field", ["goods_cost", "tariff_cost", "fixed_cost", "spend"])
def test_misreported_costs_are_caught(field):
    result = planted(SOUND)
    line = result.allocations[0]
    bad = line.model_copy(update={field: getattr(line, field) + 1.0})
    result = result.model_copy(update={"allocations": [bad, *result.allocations[1:]]})
    assert "cost" in rules(result)


def test_incremental_tier_cost_is_recomputed():
    # 60 t from 'c': 50 t at $20 + 10 t at $10 = $1,100; reporting 60 x $10 is caught.
    result = planted([60, 50, 60, 0, 20])
    line = next(a for a in result.allocations if a.supplier_id == "c")
    assert line.goods_cost == pytest.approx(1_100)
    bad = line.model_copy(update={"goods_cost": 600.0, "spend": 600.0})
    result = result.model_copy(update={"allocations": [a if a.supplier_id != "c" else bad for a in result.allocations]})
    assert "cost" in rules(result)


@pytest.mark.parametrize(
    "update",
    [
        lambda r: {"total_spend": r.total_spend * 0.9},
        lambda r: {"coverage_score": 0.5},
        lambda r: {"objective_value": 0.5},
        lambda r: {"budget_remaining": r.budget},
        lambda r: {"minerals": [r.minerals[0].model_copy(update={"suppliers_used": 5}), *r.minerals[1:]]},
        lambda r: {"minerals": [r.minerals[0].model_copy(update={"share_by_country": {"AU": 1.0}}), *r.minerals[1:]]},
    ],
    ids=["total_spend", "coverage_score", "objective_value", "budget_remaining", "suppliers_used", "share_by_country"],
)
def test_misreported_totals_and_summaries_are_caught(update):
    result = planted(SOUND)
    assert rules(result) == set()
    assert "summary" in rules(result.model_copy(update=update(result)))


def test_unknown_offer_is_caught():
    result = planted(SOUND)
    ghost = result.allocations[0].model_copy(update={"supplier_id": "zz"})
    assert "reference" in rules(result.model_copy(update={"allocations": [ghost, *result.allocations[1:]]}))


@pytest.mark.parametrize(
    "made",
    [
        lambda: REQUEST,  # validated from plain data: validation noted each offer's position
        lambda: AllocationRequest(**dict(REQUEST)),  # made of offers validated before: a pass over them
        lambda: REQUEST.model_copy(update={"suppliers": REQUEST.suppliers[::-1]}),  # positions out of date
        lambda: REQUEST.model_copy(update={"suppliers": REQUEST.suppliers[1:]}),  # one position past the end
    ],
)
def test_offers_are_found_by_id_however_the_request_was_made(made):
    req = made()
    by_id = {offer.id: offer for offer in req.suppliers}
    for ids in (["a", "c", "e"], ["e", "b"], ["zz", "c"], ["c", "zz"], []):
        found = req.offers_by_id(ids)
        assert found == {offer_id: by_id[offer_id] for offer_id in ids if offer_id in by_id}
        assert all(found[offer_id] is by_id[offer_id] for offer_id in found)


def test_validation_notes_each_offers_position_from_json_and_from_plain_data():
    positions = {offer.id: i for i, offer in enumerate(REQUEST.suppliers)}
    assert REQUEST._offer_positions == positions
    assert AllocationRequest.model_validate_json(REQUEST.model_dump_json())._offer_positions == positions


def test_an_offer_removed_from_a_request_is_reported_unknown():
    # The request's own list no longer holds "a": its allocation line must be caught, not
    # found through the position validation noted for it.
    result = planted(SOUND)
    assert "a" in {line.supplier_id for line in result.allocations}
    shrunk = REQUEST.model_copy(update={"suppliers": [o for o in REQUEST.suppliers if o.id != "a"]})
    # (not found at "a"'s old position either: offer "b" is there now)
    assert "allocation a: no such offer in the request [reference]" in map(str, check_result(shrunk, result))


def test_the_engine_never_returns_an_allocation_that_fails_the_check(monkeypatch):
    # Plant a capacity violation between the solver and the report: the engine
    # re-solves with tighter tolerances once, then refuses to answer.
    calls = []

    def broken_quantities(model, instance, answer):
        calls.append(1)
        return [offer.capacity * 2 for offer in instance.request.suppliers]

    monkeypatch.setattr(engine_module, "quantities", broken_quantities)
    req = request(1e6, [mineral("co", 100)], [offer("a", 10, 50)])
    with pytest.raises(SolutionRejected) as caught:
        allocate(req)
    assert len(calls) == 2
    assert any(v.rule == "capacity" for v in caught.value.violations)
