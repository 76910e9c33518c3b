"""Disruption risk: the disruption model, the stress test and the robust allocation, asked and answered.

A disruption model says what may fail: each listed country is cut off with its probability
(every offer from it delivers nothing), each offer fails with its own probability or
``supplier_failure``, and each listed mineral's prices are multiplied by one lognormal
factor of mean 1 and the given sigma (held where each of its prices stays within the
contract's range, 1e-06 to 1e+15: a draw is always a valid request). It is validated like
a request, and relative to one: a country no offer comes from, an unknown offer or
mineral is a 422 with its path.

A draw of the model is a list of ordinary changes (``models.changes``), in this order:
``scale_prices`` per shocked mineral, one ``exclude_countries`` with the countries cut off
(none when none is), ``scale_capacity`` 0 per failed offer (by ``supplier``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from models.changes import Change, raise_problems
from models.countries import ISO_3166_ALPHA2
from models.request import AllocationRequest, Country, Identifier, Positive, StrictModel, whole_number
from models.response import AllocationResult, ResultModel

# Hard caps of the contract; the service may set lower ones (its settings).
MAX_DRAWS = 100_000
MAX_DETAILED_DRAWS = 10_000
MAX_ROBUST_DRAWS = 1_000
MAX_SIGMA = 3.0
# The worst draws an answer lists, and the drivers (events) it ranks at most.
WORST_DRAWS = 10
MAX_DRIVERS = 25

Probability = Annotated[float, Field(ge=0, le=1, strict=True)]
Sigma = Annotated[float, Field(ge=0, le=MAX_SIGMA, strict=True)]
Seed = whole_number(0, 2**53 - 1)  # (exact in a JSON double)


class DisruptionModel(StrictModel):
    countries: dict[Country, Probability] = Field(
        default_factory=dict, description="Country -> probability that it is cut off in a draw (all its offers fail)."
    )
    suppliers: dict[Identifier, Probability] = Field(
        default_factory=dict, description="Offer id -> its own probability of failing (instead of supplier_failure)."
    )
    supplier_failure: Probability = Field(default=0.0, description="Probability that any other offer fails.")
    price_shocks: dict[Identifier, Sigma] = Field(
        default_factory=dict,
        description=(
            "Mineral id -> sigma of the lognormal factor (mean 1) its prices are multiplied by in a draw; "
            "a factor that would take one of its prices outside 1e-06 to 1e+15 is held at the nearest that does not."
        ),
    )


def disruption_problems(
    request: AllocationRequest, model: DisruptionModel, prefix: tuple[str | int, ...]
) -> list[InitErrorDetails]:
    """What in ``model`` names nothing in ``request``, with paths under ``prefix``."""
    problems = []
    countries = {o.country for o in request.suppliers}
    for code in model.countries:
        if code not in countries:
            problems.append(
                _detail(
                    (*prefix, "countries", code),
                    "unknown_country",
                    f"no offer comes from {code}; list countries that offers come from",
                )
            )
    offers = {o.id for o in request.suppliers}
    for offer_id in model.suppliers:
        if offer_id not in offers:
            problems.append(_detail((*prefix, "suppliers", offer_id), "unknown_supplier", f"no offer '{offer_id}'"))
    offered = {o.mineral for o in request.suppliers}
    known = {m.id for m in request.minerals}
    for mineral_id in model.price_shocks:
        if mineral_id not in known:
            problems.append(
                _detail((*prefix, "price_shocks", mineral_id), "unknown_mineral", f"unknown mineral '{mineral_id}'")
            )
        elif mineral_id not in offered:
            problems.append(
                _detail((*prefix, "price_shocks", mineral_id), "no_match", f"no offer of mineral '{mineral_id}'")
            )
    return problems


def raw_disruption_problems(data: Any, title: str, exc: ValidationError) -> ValidationError:
    """``exc`` with the disruption model's references checked too, when the request itself is valid.

    Field errors stop pydantic before the model validators that check references, so a body
    with a probability of 1.5 and an unknown country would name only the probability; this
    names both, as a request's own validation does.
    """
    if not isinstance(data, dict) or not isinstance(data.get("disruptions"), dict):
        return exc
    try:
        request = AllocationRequest.model_validate(data.get("request"))
    except ValidationError:
        return exc
    raw = data["disruptions"]
    keys = {
        part: {str(k).strip().upper() if part == "countries" else k: 0.0 for k in raw.get(part) or {}}
        for part in ("countries", "suppliers", "price_shocks")
        if isinstance(raw.get(part), dict)
    }
    if "countries" in keys:  # (a code that is no country is reported already)
        keys["countries"] = {c: p for c, p in keys["countries"].items() if c in ISO_3166_ALPHA2}
    model = DisruptionModel.model_construct(**keys)
    seen = {tuple(e["loc"]) for e in exc.errors()}
    extra = [p for p in disruption_problems(request, model, ("disruptions",)) if tuple(p["loc"]) not in seen]
    if not extra:
        return exc
    details = [
        InitErrorDetails(
            type=PydanticCustomError(str(e["type"]), str(e["msg"]).replace("{", "(").replace("}", ")")),
            loc=tuple(e["loc"]),
            input=e.get("input"),
        )
        for e in exc.errors(include_url=False)
    ]
    return ValidationError.from_exception_data(title, details + extra)


class PlanLine(StrictModel):
    supplier_id: Identifier
    quantity: Positive


class Plan(StrictModel):
    """A purchase plan to test: what is bought from each offer (offers not listed: nothing)."""

    allocations: list[PlanLine] = Field(max_length=50_000)


Mode = Literal["hold", "replan", "both"]


class StressTestRequest(StrictModel):
    """``POST /v1/stress-tests``."""

    request: AllocationRequest
    plan: Literal["optimal"] | Plan = Field(
        default="optimal", description='"optimal": the request\'s own optimal allocation; or a plan given.'
    )
    disruptions: DisruptionModel
    draws: whole_number(1, MAX_DRAWS) = 1_000
    seed: Seed = 0
    mode: Mode = "hold"
    details: bool = Field(
        default=False, strict=True, description=f"List every draw (at most {MAX_DETAILED_DRAWS:,} draws)."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Any) -> StressTestRequest:
        try:
            return handler(data)
        except ValidationError as exc:
            raise raw_disruption_problems(data, "StressTestRequest", exc) from None

    @model_validator(mode="after")
    def _fits_request(self) -> StressTestRequest:
        problems = disruption_problems(self.request, self.disruptions, ("disruptions",))
        if self.details and self.draws > MAX_DETAILED_DRAWS:
            problems.append(
                _detail(
                    ("details",),
                    "too_many_details",
                    f"every draw is listed for at most {MAX_DETAILED_DRAWS:,} draws; ask for fewer draws or no details",
                )
            )
        if isinstance(self.plan, Plan):
            problems += plan_reference_problems(self.request, self.plan)
        raise_problems(problems, "StressTestRequest")
        return self


def plan_reference_problems(request: AllocationRequest, plan: Plan) -> list[InitErrorDetails]:
    """Unknown or repeated offers in ``plan`` (its arithmetic against the rules is checked by the analysis)."""
    problems = []
    known = {o.id for o in request.suppliers}
    seen: set[str] = set()
    for k, line in enumerate(plan.allocations):
        loc = ("plan", "allocations", k, "supplier_id")
        if line.supplier_id not in known:
            problems.append(_detail(loc, "unknown_supplier", f"no offer '{line.supplier_id}' in the request"))
        elif line.supplier_id in seen:
            problems.append(_detail(loc, "duplicate", f"offer '{line.supplier_id}' is listed twice"))
        seen.add(line.supplier_id)
    return problems


Measure = Literal["expected", "cvar"]


class RobustRequest(StrictModel):
    """``POST /v1/robust-allocations``."""

    request: AllocationRequest
    disruptions: DisruptionModel
    draws: whole_number(1, MAX_ROBUST_DRAWS) = 200
    seed: Seed = 0
    measure: Measure = Field(
        default="expected",
        description="expected: the mean coverage score over the draws; cvar: the mean of the worst alpha share.",
    )
    alpha: float = Field(default=0.1, gt=0, le=1, strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Any) -> RobustRequest:
        try:
            return handler(data)
        except ValidationError as exc:
            raise raw_disruption_problems(data, "RobustRequest", exc) from None

    @model_validator(mode="after")
    def _fits_request(self) -> RobustRequest:
        raise_problems(disruption_problems(self.request, self.disruptions, ("disruptions",)), "RobustRequest")
        return self


# -- answers ------------------------------------------------------------------------------------


class Dist(ResultModel):
    """A distribution over draws: its mean and quantiles (linear interpolation), least and largest."""

    mean: float
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    min: float
    max: float


class MineralRisk(ResultModel):
    id: str
    coverage: Dist
    p_below_50: float = Field(description="Share of draws whose coverage of this mineral is below 50%.")
    p_below_90: float = Field(description="Share of draws whose coverage of this mineral is below 90%.")


class Driver(ResultModel):
    event: str = Field(description='"country CN" or "supplier <id>".')
    frequency: float = Field(description="Share of draws in which the event happened.")
    mean_score_loss: float = Field(
        description="Mean over those draws of the undisrupted coverage score less the draw's."
    )


class WorstDraw(ResultModel):
    index: int
    changes: list[Change]
    coverage_score: float


class StressSummary(ResultModel):
    """One mode's answer over the draws done."""

    draws: int = Field(description="Draws this summary is over.")
    base_coverage_score: float = Field(description="The undisrupted coverage score the losses are measured from.")
    coverage_score: Dist
    total_spend: Dist | None = Field(default=None, description="Replan only: each draw's spend.")
    statuses: dict[str, int] | None = Field(
        default=None, description="Replan only: draws by solve status (a draw without an allocation scores 0)."
    )
    minerals: list[MineralRisk]
    drivers: list[Driver]
    worst: list[WorstDraw]


class HoldOutcome(ResultModel):
    coverage_score: float


class ReplanOutcome(ResultModel):
    status: str
    coverage_score: float
    total_spend: float


class DrawDetail(ResultModel):
    index: int
    changes: list[Change]
    hold: HoldOutcome | None = None
    replan: ReplanOutcome | None = None


class StressTestResult(ResultModel):
    draws: int = Field(description="Draws asked for.")
    seed: int
    done: int = Field(description="Draws done: fewer than asked when the time limit came first.")
    complete: bool
    message: str | None = None
    hold: StressSummary | None = Field(
        default=None, description="Over the draws done, the plan held (null: none done)."
    )
    replan: StressSummary | None = Field(
        default=None, description="Over the draws done, each replanned (null: none done)."
    )
    value_of_flexibility: float | None = Field(
        default=None, description="The replan mean coverage score less the hold mean (mode both)."
    )
    draw_details: list[DrawDetail] | None = None


class OutOfSample(ResultModel):
    seed: int
    draws: int
    robust: Dist
    optimal: Dist


class InSample(ResultModel):
    robust: Dist
    optimal: Dist


class Risk(ResultModel):
    measure: Measure
    alpha: float
    draws: int
    objective: dict[str, float] = Field(
        description="The measure over the sampled draws (hold mode) of the robust and the ordinary optimal plan."
    )
    in_sample: InSample
    out_of_sample: OutOfSample


class RobustAllocationResult(AllocationResult):
    risk: Risk


def _detail(loc: tuple[Any, ...], kind: str, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=None)
