"""Query-string overrides of a saved scenario's request, for spreadsheet cells' GET calls.

``variant=no-china`` (the scenario's variant of that name: its changes first),
``budget=2e9``, ``exclude=CN,RU`` (countries added to the excluded ones), ``tariff.CN=0.5``
(a tariff set), ``price.cobalt=1.1`` (every price of that mineral's offers times 1.1).
``apply_overrides`` is the one place they are read; the result is validated as any request
is, so an override that breaks the contract is a 422 naming the query parameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from models import AllocationRequest, Problem, problems_from_errors
from models.changes import Variant, apply_changes
from service.errors import InvalidRequest

NOT_OVERRIDES = frozenset({"metric", "token"})  # query parameters the endpoints read themselves


def _number(name: str, text: str, problems: list[Problem]) -> float | None:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(Problem(path=f"query.{name}", message="must be a finite number", code="float_parsing"))
        return None
    return value


def apply_overrides(
    request: AllocationRequest, params: Iterable[tuple[str, str]], variants: Iterable[dict[str, Any]] = ()
) -> AllocationRequest:
    """``request`` with the overrides applied (validated); 422 listing every bad parameter.

    ``variants``: the scenario's saved variants, which ``variant=NAME`` picks from.
    """
    params = list(params)
    chosen = [text for name, text in params if name == "variant"]
    if chosen:
        request = _with_variant(request, chosen, variants)
    data: dict[str, Any] = request.model_dump(mode="json", exclude_unset=True)
    policy = data.setdefault("policy", {})
    problems: list[Problem] = []
    minerals = {m["id"] for m in data["minerals"]}
    for name, text in params:
        if name in NOT_OVERRIDES:
            continue
        if name == "variant":
            continue  # applied first, above
        if name == "budget":
            if (value := _number(name, text, problems)) is not None:
                data["budget"] = value
        elif name == "exclude":
            excluded = policy.setdefault("excluded_countries", [])
            excluded += [c.strip().upper() for c in text.split(",") if c.strip() and c.strip().upper() not in excluded]
        elif name.startswith("tariff."):
            if (value := _number(name, text, problems)) is not None:
                policy.setdefault("tariffs", {})[name.split(".", 1)[1].upper()] = value
        elif name.startswith("price."):
            mineral = name.split(".", 1)[1]
            if mineral not in minerals:
                problems.append(
                    Problem(path=f"query.{name}", message="no mineral with this id", code="unknown_mineral")
                )
            elif (factor := _number(name, text, problems)) is not None:
                _scale_prices(data, mineral, factor)
        else:
            message = "unknown parameter; overrides are budget, exclude, tariff.<country>, price.<mineral>"
            problems.append(Problem(path=f"query.{name}", message=message, code="unknown_override"))
    if problems:
        raise InvalidRequest(problems)
    try:
        return AllocationRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(
            [p.model_copy(update={"path": f"query ({p.path})"}) for p in problems_from_errors(exc.errors())]
        ) from None


def _with_variant(
    request: AllocationRequest, chosen: list[str], variants: Iterable[dict[str, Any]]
) -> AllocationRequest:
    """``request`` with the changes of the saved variant named in ``chosen`` (one name) applied."""
    named = {v["name"]: v for v in variants}
    if len(chosen) > 1:
        raise InvalidRequest([Problem(path="query.variant", message="give one variant", code="too_long")])
    variant = named.get(chosen[0])
    if variant is None:
        known = ", ".join(sorted(named)) or "none saved"
        message = f"no variant '{chosen[0]}' in this scenario (variants: {known})"
        raise InvalidRequest([Problem(path="query.variant", message=message, code="unknown_variant")])
    return apply_changes(request, Variant.model_validate(variant).changes).request


def _scale_prices(data: dict[str, Any], mineral: str, factor: float) -> None:
    for offer in data["suppliers"]:
        if offer["mineral"] != mineral:
            continue
        if offer.get("unit_price") is not None:
            offer["unit_price"] *= factor
        for tier in offer.get("price_tiers") or []:
            tier["unit_price"] *= factor
