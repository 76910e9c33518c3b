"""Hypothesis strategies: small random requests that use every feature of the contract."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from models import AllocationRequest

COUNTRIES = ["AU", "CA", "CN"]


@st.composite
def offers_for(draw, mineral_id: str, count: int, start: int, lots: bool = True) -> list[dict[str, Any]]:
    out = []
    for k in range(count):
        index = start + k
        capacity = draw(st.sampled_from([10.0, 20.0, 40.0, 60.0]))
        # Distinct prices per offer (the index breaks ties) keep optima unique.
        base = draw(st.integers(5, 40)) + index * 0.01
        o: dict[str, Any] = {
            "id": f"{mineral_id}-{k}",
            "mineral": mineral_id,
            "country": draw(st.sampled_from(COUNTRIES)),
            "capacity": capacity,
        }
        form = draw(st.sampled_from(["single", "single", "incremental", "all_units"]))
        if form == "single":
            o["unit_price"] = base
        else:
            # Round and ragged breakpoints, one exactly at capacity and one past it.
            cut = capacity * draw(st.sampled_from([0.25, 0.5, 0.123456789012, 1.0, 1.7]))
            second = base * draw(st.sampled_from([0.7, 0.9, 1.2]))
            o["price_tiers"] = [{"up_to": cut, "unit_price": base}, {"up_to": None, "unit_price": round(second, 4)}]
            o["discount"] = form
        if draw(st.booleans()):
            o["min_order"] = capacity * draw(st.sampled_from([0.1, 0.3, 0.5]))
        if lots and draw(st.integers(0, 3)) == 0:
            o["lot_size"] = capacity / draw(st.sampled_from([2, 4]))
        if draw(st.booleans()):
            o["fixed_cost"] = float(draw(st.sampled_from([20, 100, 300])))
        out.append(o)
    return out


@st.composite
def requests(
    draw,
    objective: str | None = None,
    floors: bool = True,
    max_minerals: int = 2,
    max_offers: int = 3,
    lots: bool = True,
) -> AllocationRequest:
    n_minerals = draw(st.integers(1, max_minerals))
    minerals: list[dict[str, Any]] = []
    suppliers: list[dict[str, Any]] = []
    for j in range(n_minerals):
        mid = f"m{j}"
        target = float(draw(st.sampled_from([15, 30, 50, 80])))
        m: dict[str, Any] = {"id": mid, "target": target, "weight": float(draw(st.integers(1, 3)))}
        if floors and draw(st.integers(0, 3)) == 0:
            m["min_quantity"] = target * draw(st.sampled_from([0.2, 0.5]))
        if draw(st.integers(0, 3)) == 0:
            m["max_spend"] = float(draw(st.sampled_from([200, 500, 1_000])))
        if draw(st.integers(0, 4)) == 0:
            m["max_quantity"] = target * 1.5
        minerals.append(m)
        suppliers += draw(offers_for(mid, draw(st.integers(1, max_offers)), len(suppliers), lots))
    policy: dict[str, Any] = {}
    if draw(st.booleans()):
        policy["tariffs"] = {"CN": draw(st.sampled_from([0.25, 1.0]))}
    if draw(st.integers(0, 3)) == 0:
        policy["country_caps"] = [{"countries": ["CN"], "max_share": draw(st.sampled_from([0.3, 0.6]))}]
    if draw(st.integers(0, 3)) == 0:
        policy["max_supplier_share"] = draw(st.sampled_from([0.6, 0.8]))
    if draw(st.integers(0, 3)) == 0:
        policy["max_suppliers"] = 1
    if draw(st.integers(0, 5)) == 0:
        policy["excluded_countries"] = ["CA"]
    return AllocationRequest.model_validate(
        {
            "budget": float(draw(st.sampled_from([300, 800, 2_000, 5_000]))),
            "objective": objective or draw(st.sampled_from(["max_coverage", "min_cost"])),
            "minerals": minerals,
            "suppliers": suppliers,
            "policy": policy,
            "options": {"mip_gap": 0.0, "time_limit_s": 20},
        }
    )
