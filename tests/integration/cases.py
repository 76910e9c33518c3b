"""Requests with answers worked out by hand, shared by the client and integration tests.

One mineral, two offers. Cobalt: target 20 t. Offer ``au`` (Australia) sells up
to 15 t at 100 a tonne; offer ``cn`` (China) up to 50 t at 100, with a 50 %
tariff on China, so 150 a tonne landed.

* ``max_coverage`` with a budget of 2,000: all 15 t from ``au`` (1,500), then
  the remaining 500 buys 500 / 150 = 3.333 t from ``cn``: 18.333 t, coverage
  18.333 / 20 = 0.91667, all 2,000 spent.
* ``min_cost`` with a budget of 3,000: the 20 t cost at least 15 x 100 + 5 x 150
  = 2,250 (cheapest offer first).
* ``min_cost`` with a budget of 2,000: the 20 t need 2,250, so it is infeasible.
"""

from __future__ import annotations

import random
from typing import Any


def cobalt(budget: float, objective: str) -> dict[str, Any]:
    return {
        "budget": budget,
        "objective": objective,
        "minerals": [{"id": "cobalt", "target": 20}],
        "suppliers": [
            {"id": "au", "mineral": "cobalt", "country": "AU", "capacity": 15, "unit_price": 100},
            {"id": "cn", "mineral": "cobalt", "country": "CN", "capacity": 50, "unit_price": 100},
        ],
        "policy": {"tariffs": {"CN": 0.5}},
    }


MAX_COVERAGE = cobalt(2_000, "max_coverage")  # coverage 0.91667: au 15 t, cn 3.333 t, spend 2,000
MIN_COST = cobalt(3_000, "min_cost")  # spend 2,250: au 15 t, cn 5 t
INFEASIBLE = cobalt(2_000, "min_cost")  # 20 t need 2,250 > 2,000


def slow(time_limit_s: float, seed: int = 3) -> dict[str, Any]:
    """A request HiGHS cannot prove optimal quickly (30 minerals x 10 offers with
    lots, fixed costs and minimum orders, mip_gap 0): it runs for its whole
    ``time_limit_s`` and ends ``feasible``. Measured: 20 x 8 already hits a 4 s limit."""
    r = random.Random(seed)
    countries = ["AU", "CA", "US", "CL", "PE", "ZA", "BR", "IN", "ID", "PH", "MX", "NO"]
    minerals, suppliers = [], []
    for i in range(30):
        minerals.append({"id": f"m{i}", "target": r.randint(50, 200), "weight": r.choice([1, 2, 3, 5])})
        for j in range(10):
            suppliers.append(
                {
                    "id": f"s{i}_{j}",
                    "mineral": f"m{i}",
                    "country": r.choice(countries),
                    "capacity": r.randint(20, 120),
                    "unit_price": r.randint(900, 1500),
                    "lot_size": r.choice([3, 5, 7, 11, 13]),
                    "fixed_cost": r.randint(1_000, 20_000),
                    "min_order": r.randint(0, 15),
                }
            )
    budget = 0.55 * 1_200 * sum(m["target"] for m in minerals)
    return {
        "budget": budget,
        "minerals": minerals,
        "suppliers": suppliers,
        "policy": {"max_supplier_share": 0.5},
        "options": {"time_limit_s": time_limit_s, "mip_gap": 0},
    }
