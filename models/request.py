"""The allocation request: budget, minerals, supplier offers, policy, options.

Field-level rules live on the fields; rules that relate several fields or
several items (references, duplicates, tier order) live in ``model_validator``
functions that collect *every* problem and raise them together, each with
its own path, so that a planner can fix a request in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from models.countries import ISO_3166_ALPHA2, country_pattern

# Hard limits on the size of one request (the contract's numbers).
MAX_MINERALS = 2_000
MAX_SUPPLIERS = 50_000
MAX_TIERS = 10


class StrictModel(BaseModel):
    """Base for every input type: unknown fields and NaN/infinity are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO_3166_ALPHA2:
        raise PydanticCustomError(
            "country_code",
            "'{value}' is not an ISO 3166 alpha-2 country code (e.g. US, AU, CN)",
            {"value": value},
        )
    return code


def _country_schema(schema: dict[str, Any]) -> None:
    schema["pattern"] = country_pattern()
    schema["description"] = "ISO 3166-1 alpha-2 country code, any case (e.g. US, AU, CN)."


Country = Annotated[str, Field(min_length=2, max_length=2, json_schema_extra=_country_schema), AfterValidator(_country)]


def _number_only(value: Any) -> Any:
    """A JSON number, as it is (a whole float such as 2.0 then makes an int); never a boolean or text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "must be a whole number")
    return value


def whole_number(minimum: int, maximum: int | None = None) -> Any:
    """A whole JSON number in [minimum, maximum] (3.0 as 3, as JSON Schema's integer); never a boolean or text.

    The bounds are stated in the schema too: a plain validator's constraints do not reach it by themselves.
    """
    bounds: dict[str, int] = {"minimum": minimum} | ({} if maximum is None else {"maximum": maximum})
    return Annotated[
        int,
        BeforeValidator(_number_only),
        Field(ge=minimum, le=maximum),
        WithJsonSchema({"type": "integer", **bounds}),
    ]


Identifier = Annotated[str, Field(min_length=1, max_length=200)]

# Magnitudes of money, quantities, weights and factors: a positive one lies in [SMALLEST, LARGEST]
# (zero stays allowed where it is). The engine scales each row by its own size, and a request whose
# numbers span more than this (5e-324 beside 1e300) is beyond what any double-precision solver can
# answer with a checked allocation; shares and rates have bounds of their own.
SMALLEST = 1e-6
LARGEST = 1e15


def _magnitude(value: float) -> float:
    if 0 < value < SMALLEST:
        raise PydanticCustomError("too_small", f"must be at least {SMALLEST:g}")
    if value > LARGEST:
        raise PydanticCustomError("too_large", f"must be at most {LARGEST:g}")
    return value


def _zero_or_magnitude(value: float) -> float:
    if 0 < value < SMALLEST:
        raise PydanticCustomError("too_small", f"must be 0 or at least {SMALLEST:g}")
    return _magnitude(value)


def _positive_schema(schema: dict[str, Any]) -> None:
    schema.pop("exclusiveMinimum", None)
    schema.update(minimum=SMALLEST, maximum=LARGEST)


def _non_negative_schema(schema: dict[str, Any]) -> None:
    schema.update(minimum=0, maximum=LARGEST)
    schema["not"] = {"exclusiveMinimum": 0, "exclusiveMaximum": SMALLEST}  # 0, or at least SMALLEST


# Numbers are strict: a JSON number (an integer is fine), never a boolean or a numeric string;
# the spreadsheet and CSV adapters turn the text they read into numbers themselves.
Positive = Annotated[float, Field(gt=0, strict=True, json_schema_extra=_positive_schema), AfterValidator(_magnitude)]
NonNegative = Annotated[
    float, Field(ge=0, strict=True, json_schema_extra=_non_negative_schema), AfterValidator(_zero_or_magnitude)
]
# A rate (a tariff: goods cost x (1 + rate)): 0 or more, its magnitude not bounded beyond a finite number.
Rate = Annotated[float, Field(ge=0, strict=True)]


class Objective(StrEnum):
    """What the optimisation aims for."""

    MAX_COVERAGE = "max_coverage"
    """Cover as much of the weighted targets as the money allows, then spend least."""
    MIN_COST = "min_cost"
    """Reach every target, spending as little as possible."""


class Discount(StrEnum):
    """How volume tiers price a quantity."""

    INCREMENTAL = "incremental"
    """Units inside each tier's range cost that tier's price (like tax brackets)."""
    ALL_UNITS = "all_units"
    """The whole quantity costs the price of the tier it falls into."""


class PriceTier(StrictModel):
    up_to: Positive | None = Field(
        default=None,
        description="Upper end of this tier's quantity range; null on the last tier "
        "means 'up to the offer's capacity'.",
    )
    unit_price: Positive = Field(description="Price per unit inside this tier.")


class Mineral(StrictModel):
    id: Identifier
    name: str | None = Field(default=None, max_length=200)
    unit: str = Field(default="t", min_length=1, max_length=20)
    target: Positive = Field(description="Quantity wanted, in `unit`.")
    weight: Positive = Field(default=1.0, description="Criticality weight.")
    min_quantity: NonNegative = Field(default=0.0, description="Hard floor on quantity.")
    max_quantity: Positive | None = Field(default=None, description="Hard cap on quantity.")
    max_spend: Positive | None = Field(default=None, description="Cap on spend for this mineral.")
    market_price: Positive | None = Field(
        default=None, description="Reference unit price, used only to report premiums."
    )

    @model_validator(mode="after")
    def _floor_below_cap(self) -> Mineral:
        if self.max_quantity is not None and self.min_quantity > self.max_quantity:
            message = f"min_quantity ({self.min_quantity:g}) is larger than max_quantity ({self.max_quantity:g})"
            _raise_if([_problem(("min_quantity",), "floor_above_cap", message, self.min_quantity)], "Mineral")
        return self

    @property
    def label(self) -> str:
        return self.name or self.id


# Exactly one of unit_price and price_tiers is given (not null): validation's "price_form" rule, in the schema.
# (if/then/else rather than oneOf: client generators read a model with an object-level oneOf as a union.)
_ONE_PRICE_FORM = {
    "if": {"required": ["unit_price"], "properties": {"unit_price": {"type": "number"}}},
    "then": {"properties": {"price_tiers": {"type": "null"}}},
    "else": {"required": ["price_tiers"], "properties": {"price_tiers": {"type": "array"}}},
}


class SupplierOffer(StrictModel):
    model_config = ConfigDict(json_schema_extra=_ONE_PRICE_FORM)

    id: Identifier
    name: str | None = Field(default=None, max_length=200, description="Company; default = id.")
    mineral: Identifier = Field(description="Id of the mineral offered.")
    country: Country
    capacity: Positive = Field(description="Most that can be bought, in the mineral's unit.")
    unit_price: Positive | None = None
    price_tiers: list[PriceTier] | None = Field(default=None, min_length=1, max_length=MAX_TIERS)
    discount: Discount = Discount.INCREMENTAL
    min_order: NonNegative = Field(default=0.0, description="If anything is bought, at least this.")
    lot_size: Positive | None = Field(default=None, description="Buy whole lots of this size.")
    fixed_cost: NonNegative = Field(default=0.0, description="Paid once if anything is bought.")

    @property
    def company(self) -> str:
        return self.name or self.id

    @model_validator(mode="after")
    def _offer_rules(self) -> SupplierOffer:
        problems: list[InitErrorDetails] = []
        if (self.unit_price is None) == (self.price_tiers is None):
            problems.append(
                _problem(
                    (),
                    "price_form",
                    "give exactly one of unit_price or price_tiers",
                    None,
                )
            )
        if self.min_order > self.capacity:
            problems.append(
                _problem(
                    ("min_order",),
                    "min_order_above_capacity",
                    f"min_order ({self.min_order:g}) is larger than capacity ({self.capacity:g})",
                    self.min_order,
                )
            )
        if self.lot_size is not None and self.lot_size > self.capacity:
            problems.append(
                _problem(
                    ("lot_size",),
                    "lot_above_capacity",
                    f"lot_size ({self.lot_size:g}) is larger than capacity ({self.capacity:g})",
                    self.lot_size,
                )
            )
        if self.price_tiers is not None:
            problems.extend(self._tier_problems(self.price_tiers))
        _raise_if(problems, "SupplierOffer")
        return self

    def _tier_problems(self, tiers: list[PriceTier]) -> list[InitErrorDetails]:
        problems = []
        previous = 0.0
        for k, tier in enumerate(tiers):
            loc = ("price_tiers", k, "up_to")
            last = k == len(tiers) - 1
            if tier.up_to is None:
                if not last:
                    problems.append(_problem(loc, "open_tier", "only the last tier may have up_to = null", None))
                continue
            if tier.up_to <= previous:
                problems.append(
                    _problem(
                        loc,
                        "tier_order",
                        f"up_to must be larger than the previous tier's ({previous:g})",
                        tier.up_to,
                    )
                )
            if last and tier.up_to < self.capacity:
                problems.append(
                    _problem(
                        loc,
                        "tier_short",
                        f"the last tier ends at {tier.up_to:g} but capacity is "
                        f"{self.capacity:g}; extend it or set up_to to null",
                        tier.up_to,
                    )
                )
            previous = max(previous, tier.up_to)
        return problems


class CountryCap(StrictModel):
    countries: list[Country] = Field(min_length=1, max_length=300)
    max_share: float = Field(ge=0, le=1, strict=True, description="Most of a mineral's quantity from these.")
    minerals: list[Identifier] | None = Field(default=None, description="Minerals the cap applies to; null = all.")


def _tariffs_schema(schema: dict[str, Any]) -> None:
    """Keys are country codes (``propertyNames``), values rates (``additionalProperties``)."""
    (rate,) = schema.pop("patternProperties").values()
    schema["propertyNames"] = {"type": "string", "minLength": 2, "maxLength": 2, "pattern": country_pattern()}
    schema["additionalProperties"] = rate


class Policy(StrictModel):
    tariffs: dict[Country, Rate] = Field(
        default_factory=dict,
        description="Country -> rate; goods cost x (1 + rate).",
        json_schema_extra=_tariffs_schema,
    )
    excluded_countries: list[Country] = Field(default_factory=list, max_length=300)
    country_caps: list[CountryCap] = Field(default_factory=list, max_length=1_000)
    max_supplier_share: float = Field(
        default=1.0, gt=0, le=1, strict=True, description="Most of a mineral's quantity from one offer."
    )
    max_suppliers: whole_number(1) | None = Field(default=None, description="Most offers used per mineral.")


class SolveOptions(StrictModel):
    time_limit_s: float = Field(default=30.0, gt=0, le=86_400, strict=True)
    mip_gap: float = Field(default=1e-4, ge=0, le=1, strict=True, description="Relative; 0 proves optimality.")


class AllocationRequest(StrictModel):
    budget: Positive = Field(description="The most that may be spent in total.")
    objective: Objective = Objective.MAX_COVERAGE
    minerals: list[Mineral] = Field(min_length=1, max_length=MAX_MINERALS)
    suppliers: list[SupplierOffer] = Field(min_length=1, max_length=MAX_SUPPLIERS)
    policy: Policy = Field(default_factory=Policy)
    options: SolveOptions = Field(default_factory=SolveOptions)

    # each offer's position in ``suppliers`` by id, as validation found them (see ``offers_by_id``)
    _offer_positions: dict[str, int] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _references(cls, data: Any, handler: Any) -> AllocationRequest:
        # Cross-references are checked on the raw input, so that they are
        # reported together with field errors rather than after them.
        problems, positions = _reference_problems(data) if isinstance(data, dict) else ([], None)
        try:
            request = handler(data)
        except ValidationError as exc:
            problems = [_as_detail(e) for e in exc.errors()] + problems
            _raise_if(problems, "AllocationRequest")
            raise
        _raise_if(problems, "AllocationRequest")
        if positions is not None:  # (a request validated again keeps its own)
            request._offer_positions = positions
        return request

    def mineral(self, mineral_id: str) -> Mineral:
        return self._mineral_index()[mineral_id]

    def _mineral_index(self) -> dict[str, Mineral]:
        return {m.id: m for m in self.minerals}

    def offers_by_id(self, ids: Iterable[str]) -> dict[str, SupplierOffer]:
        """The offers with these ids, by id; an id no offer has is left out.

        Found through the positions validation noted while it checked the ids for
        duplicates, without a pass over every offer (at 10,000 offers, such a pass takes
        3 ms); a request made otherwise, or whose lists changed since, gets that pass.
        """
        ids = list(ids)
        positions, suppliers = self._offer_positions, self.suppliers
        if positions is not None:
            found = {}
            for offer_id in ids:
                i = positions.get(offer_id)
                if i is None or i >= len(suppliers) or suppliers[i].id != offer_id:
                    break
                found[offer_id] = suppliers[i]
            else:
                return found
        every: dict[str, SupplierOffer] = {}
        for offer in suppliers:
            every.setdefault(offer.id, offer)  # the first with an id, as validation notes it
        return {offer_id: every[offer_id] for offer_id in ids if offer_id in every}


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _text(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


def _reference_problems(data: dict[str, Any]) -> tuple[list[InitErrorDetails], dict[str, int]]:
    """Duplicate ids and references to unknown minerals, read from raw input; each offer's position by id."""
    problems: list[InitErrorDetails] = []
    mineral_ids: set[str] = set()
    for i, mineral in _items(data, "minerals"):
        mineral_id = _text(mineral, "id")
        if mineral_id is None:
            continue
        if mineral_id in mineral_ids:
            problems.append(
                _problem(("minerals", i, "id"), "duplicate", f"duplicate mineral id '{mineral_id}'", mineral_id)
            )
        mineral_ids.add(mineral_id)

    offer_ids: dict[str, int] = {}  # the first offer with each id
    company_mineral: set[tuple[str, str]] = set()
    for i, offer in _items(data, "suppliers"):
        offer_id, mineral_id = _text(offer, "id"), _text(offer, "mineral")
        if offer_id is not None:
            if offer_id in offer_ids:
                problems.append(
                    _problem(("suppliers", i, "id"), "duplicate", f"duplicate supplier id '{offer_id}'", offer_id)
                )
            offer_ids.setdefault(offer_id, i)
        if mineral_id is None:
            continue
        if mineral_id not in mineral_ids:
            problems.append(
                _problem(
                    ("suppliers", i, "mineral"),
                    "unknown_mineral",
                    f"unknown mineral '{mineral_id}'; declare it under minerals",
                    mineral_id,
                )
            )
        name = _text(offer, "name")
        company = name or offer_id
        if company is None:
            continue
        if (company, mineral_id) in company_mineral and (name is not None or offer_ids[offer_id] == i):
            # (an offer with neither a name nor an id of its own is reported once, as a duplicate id)
            field, who = (
                ("name", f"'{company}'") if name is not None else ("id", f"'{company}' (its id, as it has no name)")
            )
            problems.append(
                _problem(
                    ("suppliers", i, field),
                    "duplicate_offer",
                    f"{who} already has an offer for '{mineral_id}'; give at most one "
                    "offer per supplier and mineral (use price_tiers for volume prices)",
                    company,
                )
            )
        company_mineral.add((company, mineral_id))

    policy = data.get("policy")
    tariffs = policy.get("tariffs") if isinstance(policy, dict) else None
    seen_countries: dict[str, str] = {}
    for key in tariffs if isinstance(tariffs, dict) else {}:
        code = key.strip().upper() if isinstance(key, str) else key
        if code in seen_countries:
            problems.append(
                _problem(
                    ("policy", "tariffs", key),
                    "duplicate",
                    f"the tariff for {code} is given twice ('{seen_countries[code]}' and '{key}')",
                    key,
                )
            )
        seen_countries[code] = key
    caps = policy.get("country_caps") if isinstance(policy, dict) else None
    for c, cap in enumerate(caps if isinstance(caps, list) else []):
        listed = cap.get("minerals") if isinstance(cap, dict) else None
        for j, mineral_id in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(mineral_id, str) and mineral_id not in mineral_ids:
                problems.append(
                    _problem(
                        ("policy", "country_caps", c, "minerals", j),
                        "unknown_mineral",
                        f"unknown mineral '{mineral_id}'",
                        mineral_id,
                    )
                )
    return problems, offer_ids


def _as_detail(error: Any) -> InitErrorDetails:
    """A field error, re-raised unchanged beside the reference problems."""
    message = str(error["msg"]).removeprefix("Value error, ").replace("{", "(").replace("}", ")")
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, (int, float, str))}
    return InitErrorDetails(
        type=PydanticCustomError(str(error["type"]), message, ctx or None),
        loc=tuple(error["loc"]),
        input=error.get("input"),
    )


def _problem(loc: tuple[Any, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def _raise_if(problems: list[InitErrorDetails], title: str) -> None:
    if problems:
        raise ValidationError.from_exception_data(title, problems)
