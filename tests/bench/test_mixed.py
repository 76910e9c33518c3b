"""bench.instances' mixed family and bench.mixed's table."""

from __future__ import annotations

import math

from bench.instances import MIXED_SIZES, mixed_mix, mixed_request, mixed_suite
from bench.mixed import table
from models import AllocationRequest


def test_each_mixed_request_is_valid_seeded_and_made_as_its_mix_says():
    for seed in range(1, 9):
        for objective in ("max_coverage", "min_cost"):
            body = mixed_request(200, objective, seed)
            AllocationRequest.model_validate(body)
            assert mixed_request(200, objective, seed) == body  # seeded
            mix, offers, policy = mixed_mix(200, objective, seed), body["suppliers"], body["policy"]
            assert len(offers) == 200 and len(body["minerals"]) == mix["minerals"]
            assert policy.get("max_suppliers") == mix["max_suppliers"]
            assert policy.get("max_supplier_share") == mix["max_supplier_share"]
            assert bool(policy["country_caps"]) == mix["country_caps"]
            share = mix["max_supplier_share"] or 1.0
            assert (mix["max_suppliers"] or math.inf) * share >= 1  # a target can still be covered
            for feature, present in (
                ("min_order", lambda o: "min_order" in o),
                ("lots", lambda o: "lot_size" in o),
                ("fixed_cost", lambda o: "fixed_cost" in o),
                ("tiers", lambda o: "price_tiers" in o),
            ):
                if mix[feature] == 0:
                    assert not any(map(present, offers)), feature
            for o in offers:
                if "lot_size" in o and "min_order" in o and o["min_order"] < o["capacity"]:
                    lots = o["min_order"] / o["lot_size"]
                    assert abs(lots - round(lots)) < 1e-3 * lots  # a minimum order of whole lots


def test_the_mixes_differ_between_seeds():
    mixes = {tuple(sorted(mixed_mix(400, "min_cost", seed).items())) for seed in range(1, 9)}
    assert len(mixes) >= 6


def test_the_mixed_family_spans_its_sizes_both_objectives_and_every_seed():
    cases = mixed_suite(seeds=(1, 2), largest=200)
    assert [(c.offers, c.objective) for c in cases] == [
        (100, "max_coverage"),
        (100, "max_coverage"),
        (100, "min_cost"),
        (100, "min_cost"),
        (200, "max_coverage"),
        (200, "max_coverage"),
        (200, "min_cost"),
        (200, "min_cost"),
    ]
    assert [c.time_limit_s for c in cases] == [MIXED_SIZES[0][1]] * 4 + [MIXED_SIZES[1][1]] * 4


def _entry(case: str, http: float, highs: float, pulp: float, pulp_status: str = "optimal") -> dict:
    def contender(seconds: float, status: str = "optimal") -> dict:
        return {"median_s": seconds, "status": status, "score": 1.0, "spend": 100.0, "violations": []}

    return {
        "case": case,
        "offers": 100,
        "objective": "min_cost",
        "time_limit_s": 20.0,
        "mip_gap": 1e-4,
        "contenders": {
            "http": contender(http),
            "highs": contender(highs),
            "pulp": {**contender(pulp, pulp_status), "spend": None if pulp_status == "infeasible" else 100.0},
        },
    }


def test_the_table_gives_geometric_means_over_the_seeds():
    rows = table([_entry("a", 1.0, 4.0, 8.0), _entry("b", 1.0, 1.0, 2.0)]).splitlines()
    row = next(r for r in rows if r.startswith("| 100 |"))
    assert "| 0.50x (0.25x-1.00x) |" in row  # HTTP / highspy: sqrt(0.25 x 1)
    assert "| 4.00x (2.00x-8.00x) |" in row  # PuLP / HTTP
    assert row.endswith("| http: 2 yes; pulp: 2 yes |")
