"""Hypothesis strategies: random change lists for a given request, of every op."""

from __future__ import annotations

from typing import Any

from hypothesis import reject
from hypothesis import strategies as st
from pydantic import ValidationError

from models import AllocationRequest
from models.changes import Change, ChangesRequest
from tests.strategies import COUNTRIES


@st.composite
def change(draw, request: AllocationRequest) -> dict[str, Any]:
    offers = request.suppliers
    minerals = [m.id for m in request.minerals]
    op = draw(
        st.sampled_from(
            ["set_budget", "scale_budget", "exclude_countries", "set_tariff", "scale_prices", "scale_capacity"]
            + ["set_mineral", "set_policy"]
        )
    )
    if op == "set_budget":
        return {"op": op, "value": request.budget * draw(st.sampled_from([0.25, 0.5, 1.5, 3.0]))}
    if op == "scale_budget":
        return {"op": op, "factor": draw(st.sampled_from([0.3, 0.8, 1.25, 2.0]))}
    if op == "exclude_countries":
        return {"op": op, "countries": [draw(st.sampled_from(COUNTRIES))]}
    if op == "set_tariff":
        return {"op": op, "country": draw(st.sampled_from(COUNTRIES)), "rate": draw(st.sampled_from([0.0, 0.3, 1.0]))}
    if op in ("scale_prices", "scale_capacity"):
        factors = [0.5, 0.9, 1.3, 2.0] if op == "scale_prices" else [0.0, 0.4, 0.8, 1.5]
        out: dict[str, Any] = {"op": op, "factor": draw(st.sampled_from(factors))}
        which = draw(st.sampled_from(["all", "mineral", "supplier"]))
        if which == "mineral":
            out["mineral"] = draw(st.sampled_from(minerals))
        elif which == "supplier":
            out["supplier"] = draw(st.sampled_from(offers)).id
        return out
    if op == "set_mineral":
        mineral = draw(st.sampled_from(request.minerals))
        field = draw(st.sampled_from(["target", "weight", "max_spend", "max_quantity"]))
        value = {
            "target": mineral.target * draw(st.sampled_from([0.5, 2.0])),
            "weight": float(draw(st.integers(1, 4))),
            "max_spend": draw(st.sampled_from([None, 150.0, 600.0])),
            "max_quantity": draw(st.sampled_from([None, mineral.target * 2])),
        }[field]
        return {"op": op, "mineral": mineral.id, "field": field, "value": value}
    field = draw(st.sampled_from(["max_supplier_share", "max_suppliers", "country_caps", "tariffs"]))
    value = {
        "max_supplier_share": draw(st.sampled_from([None, 0.5, 0.9])),
        "max_suppliers": draw(st.sampled_from([None, 1, 2])),
        "country_caps": draw(st.sampled_from([None, [{"countries": ["CN"], "max_share": 0.5}]])),
        "tariffs": draw(st.sampled_from([None, {"AU": 0.2}])),
    }[field]
    return {"op": "set_policy", "field": field, "value": value}


@st.composite
def change_lists(draw, request: AllocationRequest, max_changes: int = 3) -> list[Change]:
    """A valid list of changes for ``request`` (validated as ``POST /v1/changes/apply`` would)."""
    raw = [draw(change(request)) for _ in range(draw(st.integers(0, max_changes)))]
    # a filter may name an offer an earlier scale_capacity removed: that still applies (nothing to do)
    try:
        return list(ChangesRequest.model_validate({"request": request, "changes": raw}).changes)
    except ValidationError:  # e.g. a max_quantity set below the mineral's min_quantity
        reject()
