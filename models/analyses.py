"""What-if analyses: comparisons of scenarios, budget frontiers, the price of each policy rule.

Requests are a base ``AllocationRequest`` plus what varies; each variant's changes
are checked against the base when the request is validated, so a 422 names the
path of every change that cannot apply (``variants[1].changes[0].supplier``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from models.changes import MAX_CHANGES, Change, Variant, change_problems, raise_problems
from models.request import AllocationRequest, Positive, StrictModel, whole_number
from models.response import AllocationResult, ResultModel, Status

# Hard caps of the contract; the service may set lower ones (its settings).
MAX_VARIANTS = 1_000
MAX_FRONTIER_POINTS = 101
BASE_SCENARIO = "base"


class ComparisonRequest(StrictModel):
    """``POST /v1/comparisons``: the base request and its variants, each a list of changes."""

    request: AllocationRequest
    variants: list[Variant] = Field(min_length=1, max_length=MAX_VARIANTS)

    @model_validator(mode="after")
    def _variants_apply(self) -> ComparisonRequest:
        problems: list[InitErrorDetails] = []
        seen: set[str] = {BASE_SCENARIO}
        for v, variant in enumerate(self.variants):
            if variant.name in seen:
                message = (
                    f"the name '{variant.name}' is taken"
                    + (" by the base scenario" if variant.name == BASE_SCENARIO else " by another variant")
                    + "; give each variant its own name"
                )
                problems.append(
                    InitErrorDetails(
                        type=PydanticCustomError("duplicate", message), loc=("variants", v, "name"), input=variant.name
                    )
                )
            seen.add(variant.name)
            problems += change_problems(self.request, variant.changes, ("variants", v, "changes"))
        raise_problems(problems, "ComparisonRequest")
        return self


# Either budgets, or from, to and points: validation's "frontier_form" rule, in the schema
# (if/then/else, as for an offer's price form; ``to > from`` relates two values and is not stated).
_ONE_FRONTIER_FORM = {
    "if": {"required": ["budgets"], "properties": {"budgets": {"type": "array"}}},
    "then": {"properties": {"from": {"type": "null"}, "to": {"type": "null"}, "points": {"type": "null"}}},
    "else": {
        "required": ["from", "to", "points"],
        "properties": {"from": {"type": "number"}, "to": {"type": "number"}, "points": {"type": "integer"}},
    },
}


class FrontierRequest(StrictModel):
    """``POST /v1/frontiers``: the coverage the request buys at each of several budgets (``max_coverage``).

    Either ``budgets``, or ``from``, ``to`` and ``points`` (evenly spaced, both ends included).
    """

    request: AllocationRequest
    budgets: list[Positive] | None = Field(default=None, min_length=1, max_length=MAX_FRONTIER_POINTS)
    from_: Positive | None = Field(default=None, alias="from", description="The smallest budget.")
    to: Positive | None = Field(default=None, description="The largest budget.")
    points: whole_number(2, MAX_FRONTIER_POINTS) | None = None

    model_config = ConfigDict(**StrictModel.model_config, populate_by_name=True, json_schema_extra=_ONE_FRONTIER_FORM)

    @model_validator(mode="after")
    def _one_form(self) -> FrontierRequest:
        problems: list[InitErrorDetails] = []
        spaced = (self.from_, self.to, self.points)
        if self.budgets is not None:
            if any(x is not None for x in spaced):
                problems.append(_detail((), "frontier_form", "give either budgets, or from, to and points; not both"))
        elif any(x is None for x in spaced):
            missing = [n for n, x in zip(("from", "to", "points"), spaced, strict=True) if x is None]
            problems.append(
                _detail((), "frontier_form", f"give budgets, or from, to and points (missing: {', '.join(missing)})")
            )
        elif self.to <= self.from_:  # type: ignore[operator]
            problems.append(_detail(("to",), "frontier_order", f"must be larger than from ({self.from_:g})"))
        raise_problems(problems, "FrontierRequest")
        return self

    def budget_list(self) -> list[float]:
        """The budgets to solve at, in increasing order, each once."""
        if self.budgets is not None:
            return sorted(set(self.budgets))
        assert self.from_ is not None and self.to is not None and self.points is not None
        step = (self.to - self.from_) / (self.points - 1)
        return [self.from_ + k * step for k in range(self.points - 1)] + [self.to]


class PolicyCostsRequest(StrictModel):
    """``POST /v1/policy-costs``: what each rule in force costs the request."""

    request: AllocationRequest


def _detail(loc: tuple[Any, ...], kind: str, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=None)


# -- answers --------------------------------------------------------------------------------


class UnavailableOffer(ResultModel):
    supplier_id: str
    reason: str


class MineralDelta(ResultModel):
    id: str
    coverage: float = Field(description="Coverage in this scenario minus the base's (0..1 units).")
    quantity: float
    spend: float


class OfferChange(ResultModel):
    supplier_id: str
    mineral: str
    base_quantity: float
    quantity: float
    change: float


class Delta(ResultModel):
    """A scenario against the base: each figure is this scenario's minus the base's."""

    coverage_score: float | None = Field(description="Null when either has no coverage score.")
    total_spend: float
    premium_over_market: float = Field(description="Spend over market price on offers of minerals that have one.")
    minerals: list[MineralDelta]
    spend_by_country: dict[str, float]
    offers: list[OfferChange] = Field(description="The offers whose quantity changed.")


class Scenario(ResultModel):
    name: str
    changes: list[Change] = Field(max_length=MAX_CHANGES)
    result: AllocationResult
    premium_over_market: float = Field(description="Spend over market price on offers of minerals that have one.")
    unavailable_offers: list[UnavailableOffer] = Field(
        default_factory=list, description="Offers the changes left unusable (capacity 0, or below a minimum order)."
    )
    delta: Delta | None = Field(default=None, description="Against the base; null for the base itself.")


class ComparisonResult(ResultModel):
    scenarios: list[Scenario]


class MineralCoverage(ResultModel):
    id: str
    coverage: float


class FrontierPoint(ResultModel):
    budget: float
    status: Status
    coverage_score: float | None
    total_spend: float
    minerals: list[MineralCoverage]


class FrontierResult(ResultModel):
    points: list[FrontierPoint]
    knees: list[float] = Field(
        description="Budgets past which the coverage bought per extra dollar drops most (largest drops first)."
    )


class Outcome(ResultModel):
    status: Status
    coverage_score: float | None
    total_spend: float


class RuleCost(ResultModel):
    rule: str = Field(description="Stable key, e.g. 'tariffs.CN', 'excluded_countries.RU', 'premium.sc-rio'.")
    description: str
    change: Change = Field(description="The change that lifts the rule; the figures are the base's with it applied.")
    status: Status
    coverage_score: float | None
    total_spend: float
    coverage_gain: float | None = Field(description="Coverage score with the rule lifted minus the base's.")
    spend_saving: float = Field(description="The base's total spend minus the spend with the rule lifted.")


class PolicyCostsResult(ResultModel):
    base: Outcome
    rules: list[RuleCost] = Field(description="Most costly first.")
    budget_marginal_value: float | None = Field(
        description="Coverage score per extra $1M at the base budget (max_coverage), from re-solves a step "
        "above and below it; null when neither could be solved."
    )
