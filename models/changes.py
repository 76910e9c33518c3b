"""Changes: one vocabulary for every variant of a request.

A variant is a base request plus a list of typed changes, applied in order
(``apply_changes``). Each change is validated on its own like a request field;
applying a list to a request checks what only the request can tell (a filter
that matches no offer, an unknown mineral, a floor above a cap), and reports
every problem with its path in the change list. Applying yields an ordinary
``AllocationRequest``: what a comparison, a frontier, a policy cost or a
disruption draw solves is exactly such a request.

Offers a change leaves unusable (capacity scaled to 0 or below 1e-06, or below the
offer's minimum order or lot) are removed from the changed request and listed in
``Applied.unavailable``: a change never makes a request invalid that way. A scaling that
would take the budget, a price or a capacity past 1e+15 (or a budget or price below 1e-06)
cannot apply: the changed request stays within the contract's bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from models.problems import UNION_TAGS
from models.request import (
    LARGEST,
    MAX_SUPPLIERS,
    SMALLEST,
    AllocationRequest,
    Country,
    CountryCap,
    Identifier,
    Mineral,
    NonNegative,
    Policy,
    Positive,
    PriceTier,
    Rate,
    StrictModel,
    SupplierOffer,
)

MAX_CHANGES = 1_000


class SetBudget(StrictModel):
    op: Literal["set_budget"]
    value: Positive = Field(description="The new budget.")


class ScaleBudget(StrictModel):
    op: Literal["scale_budget"]
    factor: Positive = Field(description="The budget is multiplied by this.")


class ExcludeCountries(StrictModel):
    op: Literal["exclude_countries"]
    countries: list[Country] = Field(min_length=1, max_length=300, description="Added to the excluded countries.")


class SetTariff(StrictModel):
    op: Literal["set_tariff"]
    country: Country
    rate: Rate = Field(description="Goods from the country cost x (1 + rate); 0 removes the tariff.")


class _OfferFilter(StrictModel):
    mineral: Identifier | None = Field(default=None, description="Only offers of this mineral.")
    supplier: Identifier | None = Field(default=None, description="Only the offer with this id.")
    country: Country | None = Field(default=None, description="Only offers from this country.")

    def matches(self, offer: SupplierOffer) -> bool:
        return (
            (self.mineral is None or offer.mineral == self.mineral)
            and (self.supplier is None or offer.id == self.supplier)
            and (self.country is None or offer.country == self.country)
        )

    def described(self) -> str:
        parts = [
            f"{k} '{v}'"
            for k, v in (("mineral", self.mineral), ("supplier", self.supplier), ("country", self.country))
            if v
        ]
        return " and ".join(parts) if parts else "any offer"


class ScalePrices(_OfferFilter):
    op: Literal["scale_prices"]
    factor: Positive = Field(description="Unit prices and every tier price are multiplied by this (not fixed costs).")


class ScaleCapacity(_OfferFilter):
    op: Literal["scale_capacity"]
    factor: NonNegative = Field(description="Capacities are multiplied by this; 0 removes the offers.")


MineralField = Literal["target", "weight", "max_spend", "min_quantity", "max_quantity"]
PolicyField = Literal["max_supplier_share", "max_suppliers", "country_caps", "tariffs", "excluded_countries"]


_POSITIVE = {"type": "number", "minimum": SMALLEST, "maximum": LARGEST}
_ZERO_OR_POSITIVE = {"anyOf": [{"type": "number", "enum": [0]}, _POSITIVE]}
# What ``value`` may be for each field, as validation checks it.
_MINERAL_VALUE = {
    "allOf": [
        {"if": {"properties": {"field": {"enum": ["target", "weight"]}}}, "then": {"properties": {"value": _POSITIVE}}},
        {
            "if": {"properties": {"field": {"enum": ["max_spend", "max_quantity"]}}},
            "then": {"properties": {"value": {"anyOf": [_POSITIVE, {"type": "null"}]}}},
        },
        {
            "if": {"properties": {"field": {"const": "min_quantity"}}},
            "then": {"properties": {"value": {"anyOf": [_ZERO_OR_POSITIVE, {"type": "null"}]}}},
        },
    ]
}


class SetMineral(StrictModel):
    model_config = ConfigDict(json_schema_extra=_MINERAL_VALUE)

    op: Literal["set_mineral"]
    mineral: Identifier
    field: MineralField
    value: Annotated[float, Field(strict=True)] | None = Field(
        description="The new value; null removes an optional field (max_spend, max_quantity; min_quantity becomes 0)."
    )

    @model_validator(mode="after")
    def _value_fits_field(self) -> SetMineral:
        value = self.value
        problem = None
        if isinstance(value, bool):
            problem = "must be a number"
        elif value is None:
            if self.field in ("target", "weight"):
                problem = f"{self.field} cannot be removed; give a number > 0"
        elif not math.isfinite(value):
            problem = "must be a finite number (NaN and infinity are not allowed)"
        elif self.field == "min_quantity" and value < 0:
            problem = "must be >= 0"
        elif self.field != "min_quantity" and value <= 0:
            problem = "must be > 0"
        elif 0 < value < SMALLEST:
            problem = f"must be at least {SMALLEST:g}"
        elif value > LARGEST:
            problem = f"must be at most {LARGEST:g}"
        if problem is not None:
            raise ValidationError.from_exception_data(
                "SetMineral",
                [InitErrorDetails(type=PydanticCustomError("value", problem), loc=("value",), input=value)],
            )
        return self


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with its ``#/$defs/...`` references replaced by the definitions."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _policy_value_schema(schema: dict[str, Any]) -> None:
    """``value`` is, for each ``field``, what ``policy`` takes for that rule, or null."""
    policy = Policy.model_json_schema()
    defs = policy.get("$defs", {})
    rules = []
    for name in get_args(PolicyField):
        rule = _inline(policy["properties"][name], defs)
        rule = {k: v for k, v in rule.items() if k not in ("default", "title", "description")}
        rules.append(
            {
                "if": {"properties": {"field": {"const": name}}},
                "then": {"properties": {"value": {"anyOf": [rule, {"type": "null"}]}}},
            }
        )
    schema["allOf"] = rules


class SetPolicy(StrictModel):
    model_config = ConfigDict(json_schema_extra=_policy_value_schema)

    op: Literal["set_policy"]
    field: PolicyField
    value: Any = Field(description="The rule's new value, as in `policy`; null removes the rule.")

    @model_validator(mode="after")
    def _value_fits_field(self) -> SetPolicy:
        if self.value is not None:
            try:
                Policy.model_validate({self.field: self.value})
            except ValidationError as exc:
                details = [
                    InitErrorDetails(
                        type=PydanticCustomError(str(e["type"]), str(e["msg"]).replace("{", "(").replace("}", ")")),
                        loc=("value", *tuple(e["loc"])[1:]),
                        input=e.get("input"),
                    )
                    for e in exc.errors(include_url=False)
                ]
                raise ValidationError.from_exception_data("SetPolicy", details) from None
        return self

    def policy_value(self) -> Any:
        """The validated value as the policy holds it (the default when removed)."""
        if self.value is None:
            return Policy.model_fields[self.field].get_default(call_default_factory=True)
        return getattr(Policy.model_validate({self.field: self.value}), self.field)


Change = Annotated[
    SetBudget | ScaleBudget | ExcludeCountries | SetTariff | ScalePrices | ScaleCapacity | SetMineral | SetPolicy,
    Field(discriminator="op"),
]


UNION_TAGS.update(get_args(m.model_fields["op"].annotation)[0] for m in get_args(get_args(Change)[0]))


class Variant(StrictModel):
    name: str = Field(min_length=1, max_length=100, description="A name for the scenario.")
    changes: list[Change] = Field(default_factory=list, max_length=MAX_CHANGES)


class ChangesRequest(StrictModel):
    """``POST /v1/changes/apply``: a request and the changes to apply to it."""

    request: AllocationRequest
    changes: list[Change] = Field(default_factory=list, max_length=MAX_CHANGES)

    @model_validator(mode="after")
    def _changes_apply(self) -> ChangesRequest:
        raise_problems(change_problems(self.request, self.changes, ("changes",)), "ChangesRequest")
        return self


class ChangedRequest(AllocationRequest):
    """A request with changes applied: as a request, but changes may have removed every offer."""

    suppliers: list[SupplierOffer] = Field(max_length=MAX_SUPPLIERS)


@dataclass(frozen=True, slots=True)
class RemovedOffer:
    supplier_id: str
    reason: str


@dataclass(frozen=True)
class Applied:
    """A request with changes applied, and the offers they left unusable (removed from it)."""

    request: AllocationRequest
    unavailable: list[RemovedOffer] = field(default_factory=list)


class ChangeProblem(ValueError):
    """A change that cannot apply to the request: ``index`` in the list, the field concerned and why."""

    def __init__(self, index: int, loc: tuple[str | int, ...], message: str, code: str) -> None:
        super().__init__(message)
        self.index, self.loc, self.message, self.code = index, loc, message, code


def apply_changes(request: AllocationRequest, changes: Sequence[Any]) -> Applied:
    """``request`` with ``changes`` applied in order (raises ``ChangeProblem`` at the first that cannot apply).

    The changed request is made with ``model_copy``, not validated again: each change keeps
    the request's invariants itself (and the ones it could break are checked here), so that
    thousands of draws of a large request cost what the changes touch, not a validation each.
    """
    budget = request.budget
    minerals = list(request.minerals)
    offers = list(request.suppliers)
    policy = request.policy
    unavailable: dict[str, str] = {}
    gone: list[SupplierOffer] = []  # offers an earlier change removed: a later filter may still name them
    for i, change in enumerate(changes):
        match change:
            case SetBudget(value=value):
                budget = value
            case ScaleBudget(factor=factor):
                budget = _within(i, budget * factor, "the budget")
            case ExcludeCountries(countries=countries):
                excluded = list(policy.excluded_countries)
                excluded += [c for c in countries if c not in excluded]
                policy = policy.model_copy(update={"excluded_countries": excluded})
            case SetTariff(country=country, rate=rate):
                tariffs = {c: r for c, r in policy.tariffs.items() if c != country}
                if rate > 0:
                    tariffs[country] = rate
                policy = policy.model_copy(update={"tariffs": tariffs})
            case ScalePrices() | ScaleCapacity():
                offers = _scale_offers(i, change, offers, minerals, unavailable, gone)
            case SetMineral():
                minerals = _set_mineral(i, change, minerals)
            case SetPolicy():
                policy = _set_policy(i, change, policy, minerals)
            case _:  # pragma: no cover - the discriminated union admits nothing else
                raise TypeError(f"not a change: {change!r}")
    changed = request.model_copy(update={"budget": budget, "minerals": minerals, "suppliers": offers, "policy": policy})
    return Applied(changed, [RemovedOffer(k, v) for k, v in unavailable.items()])


def _scale_offers(
    i: int,
    change: ScalePrices | ScaleCapacity,
    offers: list[SupplierOffer],
    minerals: list[Mineral],
    unavailable: dict[str, str],
    gone: list[SupplierOffer],
) -> list[SupplierOffer]:
    if change.mineral is not None and change.mineral not in {m.id for m in minerals}:
        raise ChangeProblem(i, ("mineral",), f"unknown mineral '{change.mineral}'", "unknown_mineral")
    out: list[SupplierOffer] = []
    matched = False
    for offer in offers:
        if not change.matches(offer):
            out.append(offer)
            continue
        matched = True
        if isinstance(change, ScalePrices):
            out.append(_scaled_prices(i, offer, change.factor))
            continue
        scaled, why = _scaled_capacity(i, offer, change.factor)
        if scaled is None:
            unavailable[offer.id] = why
            gone.append(offer)
        else:
            out.append(scaled)
    if not matched and not any(change.matches(o) for o in gone):
        where = (
            "supplier" if change.supplier else "mineral" if change.mineral else "country" if change.country else "op"
        )
        raise ChangeProblem(i, (where,), f"no offer matches {change.described()}", "no_match")
    return out


def _within(i: int, value: float, what: str) -> float:
    """``value`` if it lies in the contract's bounds of a positive number (a changed request stays valid)."""
    if not SMALLEST <= value <= LARGEST:
        message = f"{what} would be {value:g}, outside {SMALLEST:g} to {LARGEST:g}"
        raise ChangeProblem(i, ("factor",), message, "out_of_range")
    return value


def _scaled_prices(i: int, offer: SupplierOffer, factor: float) -> SupplierOffer:
    what = f"a unit price of offer '{offer.id}'"
    if offer.price_tiers is None:
        assert offer.unit_price is not None
        return offer.model_copy(update={"unit_price": _within(i, offer.unit_price * factor, what)})
    tiers = [t.model_copy(update={"unit_price": _within(i, t.unit_price * factor, what)}) for t in offer.price_tiers]
    return offer.model_copy(update={"price_tiers": tiers})


def _scaled_capacity(i: int, offer: SupplierOffer, factor: float) -> tuple[SupplierOffer | None, str]:
    capacity = offer.capacity * factor
    if capacity <= 0:
        return None, "its capacity was scaled to 0"
    if capacity < SMALLEST:
        return None, f"its capacity was scaled to {capacity:g}, below {SMALLEST:g}"
    _within(i, capacity, f"the capacity of offer '{offer.id}'")
    if offer.min_order > capacity:
        return None, f"its minimum order ({offer.min_order:g}) is more than its new capacity ({capacity:g})"
    if offer.lot_size is not None and offer.lot_size > capacity:
        return None, f"its lot size ({offer.lot_size:g}) is more than its new capacity ({capacity:g})"
    update: dict[str, Any] = {"capacity": capacity}
    tiers = offer.price_tiers
    if tiers is not None and tiers[-1].up_to is not None and tiers[-1].up_to < capacity:
        # the last tier is extended to the new capacity; breakpoints otherwise stay where they are
        update["price_tiers"] = [*tiers[:-1], PriceTier(up_to=capacity, unit_price=tiers[-1].unit_price)]
    return offer.model_copy(update=update), ""


def _set_mineral(i: int, change: SetMineral, minerals: list[Mineral]) -> list[Mineral]:
    for k, mineral in enumerate(minerals):
        if mineral.id != change.mineral:
            continue
        value = change.value if change.value is not None else (0.0 if change.field == "min_quantity" else None)
        updated = mineral.model_copy(update={change.field: value})
        if updated.max_quantity is not None and updated.min_quantity > updated.max_quantity:
            message = (
                f"min_quantity ({updated.min_quantity:g}) would be larger than max_quantity ({updated.max_quantity:g})"
            )
            raise ChangeProblem(i, ("value",), message, "floor_above_cap")
        return [*minerals[:k], updated, *minerals[k + 1 :]]
    raise ChangeProblem(i, ("mineral",), f"unknown mineral '{change.mineral}'", "unknown_mineral")


def _set_policy(i: int, change: SetPolicy, policy: Policy, minerals: list[Mineral]) -> Policy:
    value = change.policy_value()
    if change.field == "country_caps":
        known = {m.id for m in minerals}
        caps: list[CountryCap] = value
        for c, cap in enumerate(caps):
            for j, mineral_id in enumerate(cap.minerals or []):
                if mineral_id not in known:
                    raise ChangeProblem(
                        i, ("value", c, "minerals", j), f"unknown mineral '{mineral_id}'", "unknown_mineral"
                    )
    return policy.model_copy(update={change.field: value})


def change_problems(
    request: AllocationRequest, changes: Sequence[Any], prefix: tuple[str | int, ...]
) -> list[InitErrorDetails]:
    """Why ``changes`` cannot apply to ``request``, with paths under ``prefix`` (none when they can)."""
    try:
        apply_changes(request, changes)
    except ChangeProblem as exc:
        loc = (*prefix, exc.index, *exc.loc)
        return [InitErrorDetails(type=PydanticCustomError(exc.code, exc.message), loc=loc, input=None)]
    return []


def raise_problems(problems: list[InitErrorDetails], title: str) -> None:
    if problems:
        raise ValidationError.from_exception_data(title, problems)
