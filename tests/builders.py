"""Small builders for requests in tests: a dict that reads like the contract."""

from __future__ import annotations

from typing import Any

from models import AllocationRequest


def mineral(id: str = "co", target: float = 100.0, **extra: Any) -> dict[str, Any]:
    return {"id": id, "target": target, **extra}


def offer(
    id: str,
    price: float | None = 10.0,
    capacity: float = 100.0,
    mineral: str = "co",
    country: str = "AU",
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": id, "mineral": mineral, "country": country, "capacity": capacity, **extra}
    if price is not None and "price_tiers" not in extra:
        out["unit_price"] = price
    return out


def tiers(*pairs: tuple[float | None, float]) -> list[dict[str, Any]]:
    """tiers((100, 10.0), (None, 8.0)) -> [{"up_to": 100, "unit_price": 10.0}, ...]"""
    return [{"up_to": up_to, "unit_price": price} for up_to, price in pairs]


def request(
    budget: float,
    minerals: list[dict[str, Any]],
    suppliers: list[dict[str, Any]],
    objective: str = "max_coverage",
    policy: dict[str, Any] | None = None,
    mip_gap: float = 0.0,
    time_limit_s: float = 20.0,
) -> AllocationRequest:
    return AllocationRequest.model_validate(
        {
            "budget": budget,
            "objective": objective,
            "minerals": minerals,
            "suppliers": suppliers,
            "policy": policy or {},
            "options": {"mip_gap": mip_gap, "time_limit_s": time_limit_s},
        }
    )


def every_kind_of_offer(objective: str = "max_coverage", dear: bool = False) -> AllocationRequest:
    """Two minerals and an offer of each kind: a fixed cost, all-units tiers, a minimum order, a lot
    (``dear``: two dearer offers besides, which a least-cost solve leaves out)."""
    extra = [offer("e", 90.0, 50, fixed_cost=10.0), offer("f", 95.0, 50, mineral="sb", min_order=5.0)] if dear else []
    return request(
        1_000_000,
        [mineral("co", 100), mineral("sb", 50)],
        [
            offer("a", 20.0, 60, fixed_cost=100.0),
            offer("b", None, 80, country="CA", price_tiers=tiers((30, 25.0), (None, 18.0)), discount="all_units"),
            offer("c", 30.0, 40, mineral="sb", country="CN", min_order=10.0),
            offer("d", 35.0, 40, mineral="sb", lot_size=5.0),
            *extra,
        ],
        objective=objective,
        policy={"max_supplier_share": 0.8},
    )


def quantities(result) -> dict[str, float]:
    """supplier_id -> quantity, for the offers used."""
    return {line.supplier_id: line.quantity for line in result.allocations}
