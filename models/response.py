"""The allocation result: status, figures, one row per offer used, findings."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.request import Objective


class Status(StrEnum):
    """How a solve ended; the service's own vocabulary, not the solver's."""

    OPTIMAL = "optimal"
    """Best possible within the requested mip_gap."""
    FEASIBLE = "feasible"
    """A limit stopped the search with a valid allocation in hand."""
    INFEASIBLE = "infeasible"
    """No allocation meets every hard requirement; see diagnostics."""
    NO_SOLUTION = "no_solution"
    """A limit stopped the search before any allocation was found."""

    @property
    def has_allocation(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ResultModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSize(ResultModel):
    variables: int
    binaries: int
    integers: int
    constraints: int


class AllocationLine(ResultModel):
    supplier_id: str
    supplier: str
    mineral: str
    country: str
    quantity: float
    goods_cost: float
    tariff_cost: float
    fixed_cost: float
    spend: float
    average_unit_price: float = Field(description="spend / quantity, all costs included.")
    premium_vs_market: float | None = Field(
        default=None,
        description="average_unit_price / market_price - 1, when the mineral has a market_price.",
    )


class MineralSummary(ResultModel):
    id: str
    name: str
    unit: str
    quantity: float
    target: float
    coverage: float = Field(description="min(1, quantity / target).")
    spend: float
    suppliers_used: int
    share_by_country: dict[str, float] = Field(description="Country -> share of the quantity.")


class Finding(ResultModel):
    """A plain-language observation about the request or its allocation."""

    code: str = Field(description="Stable machine-readable kind, e.g. 'floor_unmet'.")
    severity: Severity
    message: str
    mineral: str | None = None
    requirement: str | None = Field(default=None, description="The field concerned, e.g. 'min_quantity'.")
    required: float | None = None
    achievable: float | None = None
    shortfall: float | None = None


class AllocationResult(ResultModel):
    status: Status
    objective: Objective
    objective_value: float | None = Field(
        default=None, description="Coverage score (max_coverage) or total spend (min_cost)."
    )
    coverage_score: float | None = Field(
        default=None, description="sum(weight x coverage) / sum(weight); max_coverage only."
    )
    total_spend: float
    budget: float
    budget_remaining: float
    mip_gap: float | None = Field(
        default=None,
        description="Relative gap of the primary objective, |bound - value| / max(|bound|, |value|), "
        "in [0, 1]; null when the solver stopped before it had a bound.",
    )
    best_bound: float | None = Field(
        default=None,
        description="The solver's bound on the primary objective: no allocation can score higher "
        "(max_coverage) or spend less (min_cost).",
    )
    solve_seconds: float
    model: ModelSize
    allocations: list[AllocationLine]
    minerals: list[MineralSummary]
    diagnostics: list[Finding]
