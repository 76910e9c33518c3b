"""Generated requests for the reliability tests and ``bench/load.py``.

Plain dicts (the JSON a client would post), deterministic for a seed.
"""

from __future__ import annotations

import random
from typing import Any

COUNTRIES = [
    "AU",
    "CA",
    "US",
    "BR",
    "CL",
    "PE",
    "ZA",
    "CD",
    "ID",
    "PH",
    "VN",
    "IN",
    "KZ",
    "MX",
    "NO",
    "FI",
    "SE",
    "DE",
    "JP",
    "KR",
]


def generated_request(
    minerals: int,
    offers_per_mineral: int,
    *,
    seed: int = 0,
    hard: bool = False,
    simple: bool = False,
    time_limit_s: float | None = None,
) -> dict[str, Any]:
    """``minerals`` x ``offers_per_mineral`` offers with fixed costs, lots, minimum orders and tiers.

    ``simple`` keeps only prices and incremental tiers (an easy model); ``hard`` makes a
    knapsack-like instance with a tight budget, odd lot sizes and all-units discounts that
    HiGHS cannot prove optimal within seconds (mip_gap 0).
    """
    rng = random.Random(seed)
    mineral_rows = []
    suppliers = []
    total_target_cost = 0.0
    for m in range(minerals):
        mid = f"m{m}"
        target = rng.uniform(50, 500)
        price = rng.uniform(1_000, 50_000)
        mineral_rows.append({"id": mid, "target": target, "weight": rng.uniform(0.5, 3.0)})
        total_target_cost += target * price
        for o in range(offers_per_mineral):
            capacity = target * rng.uniform(0.15, 0.6)
            offer: dict[str, Any] = {
                "id": f"{mid}-o{o}",
                "mineral": mid,
                "country": rng.choice(COUNTRIES),
                "capacity": capacity,
            }
            if not simple:
                offer["fixed_cost"] = price * capacity * rng.uniform(0.02, 0.2)
            unit = price * rng.uniform(0.8, 1.3)
            if hard or (not simple and o % 3 == 0):
                offer["lot_size"] = capacity / rng.randint(3, 9)
            if hard or (not simple and o % 2 == 0):
                offer["min_order"] = capacity * rng.uniform(0.1, 0.4)
            if hard or o % 4 == 1:
                offer["discount"] = "incremental" if simple else "all_units"
                offer["price_tiers"] = [
                    {"up_to": capacity * 0.3, "unit_price": unit},
                    {"up_to": capacity * 0.7, "unit_price": unit * 0.93},
                    {"up_to": None, "unit_price": unit * 0.85},
                ]
            else:
                offer["unit_price"] = unit
            suppliers.append(offer)
    request: dict[str, Any] = {
        "budget": total_target_cost * (0.45 if hard else 0.7),
        "objective": "max_coverage",
        "minerals": mineral_rows,
        "suppliers": suppliers,
        "policy": {"max_supplier_share": 0.5},
    }
    if hard or time_limit_s is not None:
        request["options"] = {"time_limit_s": time_limit_s or 30.0, "mip_gap": 0.0 if hard else 1e-4}
    return request


def hard_request(time_limit_s: float, seed: int = 1) -> dict[str, Any]:
    """Not solved to optimality within time limits of a few seconds (300 offers, every feature, gap 0)."""
    return generated_request(20, 15, seed=seed, hard=True, time_limit_s=time_limit_s)


def mid_request(seed: int = 2) -> dict[str, Any]:
    """A mid-size request: 20 minerals x 10 offers with prices and volume tiers (~620 columns)."""
    return generated_request(20, 10, seed=seed, simple=True)
