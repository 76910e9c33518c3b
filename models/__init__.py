"""Stockpile's data types: the validated allocation request and its result.

Pydantic v2 types and validation only: nothing here knows about Pyomo,
HiGHS or HTTP.
"""

from models.problems import Problem, format_path, problems_from_errors, problems_from_validation_error
from models.request import (
    MAX_MINERALS,
    MAX_SUPPLIERS,
    MAX_TIERS,
    AllocationRequest,
    CountryCap,
    Discount,
    Mineral,
    Objective,
    Policy,
    PriceTier,
    SolveOptions,
    SupplierOffer,
)
from models.response import (
    AllocationLine,
    AllocationResult,
    Finding,
    MineralSummary,
    ModelSize,
    Severity,
    Status,
)

__all__ = [
    "MAX_MINERALS",
    "MAX_SUPPLIERS",
    "MAX_TIERS",
    "AllocationLine",
    "AllocationRequest",
    "AllocationResult",
    "CountryCap",
    "Discount",
    "Finding",
    "Mineral",
    "MineralSummary",
    "ModelSize",
    "Objective",
    "Policy",
    "PriceTier",
    "Problem",
    "Severity",
    "SolveOptions",
    "Status",
    "SupplierOffer",
    "format_path",
    "problems_from_errors",
    "problems_from_validation_error",
]
