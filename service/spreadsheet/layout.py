"""The spreadsheet layout: which sheets, which columns, what each column means.

One description shared by the template writer, the workbook reader, the CSV
reader and the result writer, so that a column's name, meaning and format are
written down once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models import MAX_TIERS

Kind = Literal["text", "number", "integer", "country", "list"]

SETTINGS, MINERALS, SUPPLIERS, POLICY, LISTS = "Settings", "Minerals", "Suppliers", "Policy", "Lists"
INPUT_SHEETS = (SETTINGS, MINERALS, SUPPLIERS, POLICY)

# Output sheets. The mineral summary cannot be called "Minerals": that is an input sheet.
ALLOCATION, MINERAL_SUMMARY, DIAGNOSTICS, CHARTS = "Allocation", "Mineral summary", "Diagnostics", "Charts"
OUTPUT_SHEETS = (ALLOCATION, MINERAL_SUMMARY, DIAGNOSTICS, CHARTS)

MONEY = "#,##0.00"
QUANTITY = "#,##0.###"
SHARE = "0.0%"
RATE = "0.0%"
PLAIN = "General"
INTEGER = "0"


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind
    note: str
    required: bool = False
    number_format: str = PLAIN
    width: int = 14


@dataclass(frozen=True)
class Setting:
    name: str
    path: tuple[str, ...]
    kind: Kind
    note: str
    number_format: str = PLAIN


SETTINGS_ROWS: tuple[Setting, ...] = (
    Setting("budget", ("budget",), "number", "The most that may be spent in total, all costs included.", "#,##0"),
    Setting(
        "objective",
        ("objective",),
        "text",
        "max_coverage: cover as much of the weighted targets as the money allows, then spend least. "
        "min_cost: reach every target, spending as little as possible.",
    ),
    Setting(
        "time_limit_s",
        ("options", "time_limit_s"),
        "number",
        "Seconds the solver may search (server may clamp).",
        "0.##",
    ),
    Setting("mip_gap", ("options", "mip_gap"), "number", "Relative optimality gap; 0 proves optimality.", "0.######"),
)
OBJECTIVES = ("max_coverage", "min_cost")
DISCOUNTS = ("incremental", "all_units")

MINERAL_COLUMNS: tuple[Column, ...] = (
    Column("id", "text", "Short unique id, used by Suppliers!mineral.", True, width=14),
    Column("name", "text", "Display name (optional).", width=22),
    Column("unit", "text", "Unit of quantities and prices (default t).", width=8),
    Column("target", "number", "Quantity wanted, in unit. Must be > 0: from 1e-06 to 1e+15.", True, QUANTITY),
    Column("weight", "number", "Criticality weight (default 1).", number_format="0.##", width=9),
    Column("min_quantity", "number", "Hard floor on the quantity bought (default 0).", number_format=QUANTITY),
    Column("max_quantity", "number", "Hard cap on the quantity bought (optional).", number_format=QUANTITY),
    Column("max_spend", "number", "Cap on money spent on this mineral (optional).", number_format="#,##0", width=16),
    Column("market_price", "number", "Reference unit price, only to report premiums (optional).", number_format=MONEY),
)


def tier_columns(n: int) -> tuple[Column, Column]:
    return (
        Column(
            f"tier{n}_up_to",
            "number",
            f"Price tier {n}: upper end of its quantity range; blank on the last tier means up to capacity.",
            number_format=QUANTITY,
        ),
        Column(
            f"tier{n}_unit_price", "number", f"Price tier {n}: price per unit inside the tier.", number_format=MONEY
        ),
    )


SUPPLIER_BASE_COLUMNS: tuple[Column, ...] = (
    Column("id", "text", "Short unique id of this offer.", True),
    Column("name", "text", "Company name (default: id). One offer per company and mineral.", width=32),
    Column("mineral", "text", "Id of the mineral offered (see Minerals!id).", True),
    Column("country", "country", "ISO 3166 alpha-2 country code of origin (US, AU, CN...).", True, width=9),
    Column(
        "capacity",
        "number",
        "Most that can be bought, in the mineral's unit. Must be > 0: from 1e-06 to 1e+15.",
        True,
        QUANTITY,
    ),
    Column(
        "unit_price",
        "number",
        "One price per unit. Give either unit_price or price tiers, not both.",
        number_format=MONEY,
    ),
    Column("discount", "text", "How tiers price a quantity: incremental (like tax brackets) or all_units.", width=12),
    Column("min_order", "number", "If anything is bought, at least this (default 0).", number_format=QUANTITY),
    Column("lot_size", "number", "Buy whole lots of this size (optional).", number_format=QUANTITY),
    Column("fixed_cost", "number", "Paid once if anything is bought (default 0).", number_format="#,##0"),
)
TEMPLATE_TIERS = 3
SUPPLIER_COLUMNS: tuple[Column, ...] = SUPPLIER_BASE_COLUMNS + tuple(
    c for n in range(1, MAX_TIERS + 1) for c in tier_columns(n)
)
SUPPLIER_NUMBER_FIELDS = ("capacity", "unit_price", "min_order", "lot_size", "fixed_cost")

POLICY_COLUMNS: tuple[Column, ...] = (
    Column("rule", "text", "tariff, exclude, country_cap, max_supplier_share or max_suppliers.", True, width=20),
    Column(
        "countries",
        "list",
        "Country codes the rule is about, separated by commas (tariff, exclude, country_cap).",
        width=16,
    ),
    Column(
        "value",
        "number",
        "tariff: rate (100% doubles the price); country_cap and max_supplier_share: largest "
        "share of a mineral's quantity; max_suppliers: most offers used per mineral.",
        width=12,
    ),
    Column(
        "minerals", "list", "country_cap only: mineral ids it applies to, separated by commas; blank = all.", width=24
    ),
)
POLICY_RULES = ("tariff", "exclude", "country_cap", "max_supplier_share", "max_suppliers")
RULE_FORMATS = {"tariff": RATE, "country_cap": SHARE, "max_supplier_share": SHARE, "max_suppliers": INTEGER}

# Result tables: column header -> number format (stable order, also the CSV order).
ALLOCATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("supplier_id", PLAIN),
    ("supplier", PLAIN),
    ("mineral", PLAIN),
    ("country", PLAIN),
    ("quantity", QUANTITY),
    ("goods_cost", MONEY),
    ("tariff_cost", MONEY),
    ("fixed_cost", MONEY),
    ("spend", MONEY),
    ("average_unit_price", MONEY),
    ("premium_vs_market", "+0.0%;-0.0%;0.0%"),
)


def normalise_header(text: object) -> str:
    """``" Unit Price "`` -> ``unit_price``: headers match whatever their case and spacing."""
    return "_".join(str(text).strip().lower().replace("-", " ").split())


# The Scenarios sheet: one change per row; the rows of one scenario make a variant of the request.
SCENARIOS = "Scenarios"
SCENARIO_OPS = (
    "set_budget",
    "scale_budget",
    "exclude_countries",
    "set_tariff",
    "scale_prices",
    "scale_capacity",
    "set_mineral",
    "set_policy",
)
SCENARIO_FIELDS = (
    "target",
    "weight",
    "max_spend",
    "min_quantity",
    "max_quantity",
    "max_supplier_share",
    "max_suppliers",
    "country_caps",
    "tariffs",
    "excluded_countries",
)
SCENARIO_COLUMNS: tuple[Column, ...] = (
    Column("scenario", "text", "Name of the scenario; its rows are applied in order to the request.", True, width=18),
    Column(
        "op",
        "text",
        "The change: set_budget, scale_budget, exclude_countries, set_tariff, scale_prices, scale_capacity, "
        "set_mineral or set_policy.",
        True,
        width=18,
    ),
    Column(
        "mineral",
        "text",
        "set_mineral: the mineral's id; scale_prices, scale_capacity: only offers of this mineral (optional).",
    ),
    Column("supplier", "text", "scale_prices, scale_capacity: only the offer with this id (optional)."),
    Column(
        "country",
        "country",
        "set_tariff: the country; exclude_countries: a country to exclude; scale_prices, scale_capacity: only "
        "offers from this country (optional).",
        width=9,
    ),
    Column(
        "field",
        "text",
        "set_mineral: target, weight, max_spend, min_quantity or max_quantity; set_policy: max_supplier_share, "
        "max_suppliers, country_caps, tariffs or excluded_countries.",
        width=18,
    ),
    Column(
        "value",
        "text",
        "set_budget: the budget; scale_*: the factor (1.2 = +20%); set_tariff: the rate (0 removes it); "
        "exclude_countries: country codes separated by commas; set_mineral: the number (blank removes an optional "
        "field); set_policy: the number, country codes separated by commas (excluded_countries), CN: 1, ID: 0.1 "
        "(tariffs) or JSON as in the API (country_caps); blank removes the rule.",
        width=28,
    ),
)
# Where each change's number goes, by op (the rest take ``value``).
SCENARIO_VALUE_KEYS = {
    "scale_budget": "factor",
    "scale_prices": "factor",
    "scale_capacity": "factor",
    "set_tariff": "rate",
    "exclude_countries": "countries",
}
# The comparison sheets of a result workbook (beside its Allocation sheets).
SCENARIO_OUTPUT_SHEETS = ("Scenario summary", "Scenario allocations", "Scenario minerals")
