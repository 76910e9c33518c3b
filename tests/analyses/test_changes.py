"""The change vocabulary: what each op does to a request, and the 422s of changes that cannot apply."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models import problems_from_validation_error
from models.analyses import ComparisonRequest
from models.changes import ChangesRequest, apply_changes
from tests.builders import mineral, offer, request, tiers


def base():
    return request(
        1_000.0,
        [mineral("co", 50, max_spend=800.0), mineral("sb", 20)],
        [
            offer("a", 10.0, 40, country="AU", fixed_cost=5.0),
            offer("b", None, 30, country="CN", price_tiers=tiers((10, 12.0), (30, 9.0))),
            offer("c", 20.0, 25, mineral="sb", country="CA", min_order=10.0, lot_size=5.0),
        ],
        policy={"tariffs": {"CN": 1.0}, "excluded_countries": ["RU"], "max_suppliers": 2},
    )


def applied(*changes):
    body = ChangesRequest.model_validate({"request": base(), "changes": list(changes)})
    return apply_changes(body.request, body.changes)


def problems(*changes) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as exc:
        ChangesRequest.model_validate({"request": base(), "changes": list(changes)})
    return [(p.path, p.code) for p in problems_from_validation_error(exc.value)]


def test_budget_ops_compose_in_order():
    out = applied({"op": "set_budget", "value": 400}, {"op": "scale_budget", "factor": 1.5}).request
    assert out.budget == 600


def test_exclude_countries_adds_each_country_once():
    out = applied({"op": "exclude_countries", "countries": ["cn", "RU"]}).request
    assert out.policy.excluded_countries == ["RU", "CN"]


def test_a_tariff_of_zero_removes_it_and_others_are_set():
    assert applied({"op": "set_tariff", "country": "CN", "rate": 0}).request.policy.tariffs == {}
    out = applied({"op": "set_tariff", "country": "AU", "rate": 0.25}).request
    assert out.policy.tariffs == {"CN": 1.0, "AU": 0.25}


def test_scale_prices_scales_unit_and_tier_prices_of_matching_offers_only():
    out = applied({"op": "scale_prices", "factor": 2, "mineral": "co"}).request
    by_id = {o.id: o for o in out.suppliers}
    assert by_id["a"].unit_price == 20.0 and by_id["a"].fixed_cost == 5.0
    assert [t.unit_price for t in by_id["b"].price_tiers] == [24.0, 18.0]
    assert by_id["c"].unit_price == 20.0


def test_scale_capacity_extends_a_closed_last_tier_and_keeps_breakpoints():
    out = applied({"op": "scale_capacity", "factor": 2, "supplier": "b"}).request
    b = next(o for o in out.suppliers if o.id == "b")
    assert b.capacity == 60 and [t.up_to for t in b.price_tiers] == [10, 60]


def test_offers_that_no_longer_fit_their_minimum_order_or_lot_are_removed_and_said():
    result = applied({"op": "scale_capacity", "factor": 0.3, "mineral": "sb"})  # 7.5 < min order 10
    assert [o.id for o in result.request.suppliers] == ["a", "b"]
    assert [u.supplier_id for u in result.unavailable] == ["c"]
    assert "minimum order" in result.unavailable[0].reason
    zero = applied({"op": "scale_capacity", "factor": 0, "country": "AU"})
    assert [u.supplier_id for u in zero.unavailable] == ["a"] and "0" in zero.unavailable[0].reason


def test_a_filter_naming_an_offer_an_earlier_change_removed_still_applies():
    result = applied(
        {"op": "scale_capacity", "factor": 0, "supplier": "a"}, {"op": "scale_prices", "factor": 2, "supplier": "a"}
    )
    assert [u.supplier_id for u in result.unavailable] == ["a"]


def test_set_mineral_sets_and_removes_fields():
    out = applied(
        {"op": "set_mineral", "mineral": "co", "field": "max_spend", "value": None},
        {"op": "set_mineral", "mineral": "sb", "field": "target", "value": 40},
    ).request
    assert out.mineral("co").max_spend is None and out.mineral("sb").target == 40


def test_set_policy_sets_and_removes_rules():
    out = applied(
        {"op": "set_policy", "field": "max_suppliers", "value": None},
        {"op": "set_policy", "field": "country_caps", "value": [{"countries": ["CN"], "max_share": 0.5}]},
        {"op": "set_policy", "field": "max_supplier_share", "value": 0.7},
    ).request
    assert out.policy.max_suppliers is None
    assert out.policy.country_caps[0].countries == ["CN"] and out.policy.max_supplier_share == 0.7
    assert (
        applied({"op": "set_policy", "field": "max_supplier_share", "value": None}).request.policy.max_supplier_share
        == 1
    )


def test_applying_leaves_the_base_as_it_was():
    body = ChangesRequest.model_validate({"request": base(), "changes": [{"op": "scale_prices", "factor": 3}]})
    before = body.request.model_dump()
    apply_changes(body.request, body.changes)
    assert body.request.model_dump() == before


def test_the_changed_request_is_valid_as_a_request():
    from models import AllocationRequest

    out = applied({"op": "scale_capacity", "factor": 0.5}, {"op": "exclude_countries", "countries": ["AU"]}).request
    again = AllocationRequest.model_validate(out.model_dump())
    assert again.model_dump() == out.model_dump()


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"op": "scale_prices", "factor": -1}, "changes[0].factor", "greater_than"),
        ({"op": "scale_capacity", "factor": 1, "supplier": "zz"}, "changes[0].supplier", "no_match"),
        ({"op": "scale_prices", "factor": 1, "country": "US"}, "changes[0].country", "no_match"),
        ({"op": "scale_prices", "factor": 1, "mineral": "zz"}, "changes[0].mineral", "unknown_mineral"),
        (
            {"op": "set_mineral", "mineral": "zz", "field": "target", "value": 1},
            "changes[0].mineral",
            "unknown_mineral",
        ),
        ({"op": "set_mineral", "mineral": "co", "field": "target", "value": None}, "changes[0].value", "value"),
        ({"op": "set_mineral", "mineral": "co", "field": "colour", "value": 1}, "changes[0].field", "literal_error"),
        ({"op": "set_policy", "field": "max_suppliers", "value": 0}, "changes[0].value", "greater_than_equal"),
        (
            {
                "op": "set_policy",
                "field": "country_caps",
                "value": [{"countries": ["CN"], "max_share": 0.5, "minerals": ["zz"]}],
            },
            "changes[0].value[0].minerals[0]",
            "unknown_mineral",
        ),
        ({"op": "set_tariff", "country": "00", "rate": 1}, "changes[0].country", "country_code"),
        ({"op": "teleport"}, "changes[0]", "union_tag_invalid"),
        ({"op": "set_budget", "value": 5, "extra": 1}, "changes[0].extra", "extra_forbidden"),
    ],
)
def test_changes_that_cannot_apply_are_422s_with_their_path(change, path, code):
    assert (path, code) in problems(change)


def test_a_floor_set_above_a_cap_is_a_problem_of_the_change():
    body = {"op": "set_mineral", "mineral": "co", "field": "min_quantity", "value": 10}
    cap = {"op": "set_mineral", "mineral": "co", "field": "max_quantity", "value": 5}
    assert ("changes[1].value", "floor_above_cap") in problems(body, cap)


def test_comparison_paths_name_the_variant_and_its_change():
    with pytest.raises(ValidationError) as exc:
        ComparisonRequest.model_validate(
            {
                "request": base(),
                "variants": [
                    {"name": "ok", "changes": []},
                    {
                        "name": "bad",
                        "changes": [{"op": "scale_budget", "factor": 2}, {"op": "scale_prices", "factor": 0}],
                    },
                    {"name": "base", "changes": []},
                ],
            }
        )
    found = {(p.path, p.code) for p in problems_from_validation_error(exc.value)}
    assert ("variants[1].changes[1].factor", "greater_than") in found
