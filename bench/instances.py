"""Seeded benchmark instances: from the DLA example up to 200 minerals x 250 offers.

Every instance exercises the whole contract: single prices, incremental tiers
that rise (convex) and fall (volume discounts), all-units tiers, minimum
orders, lots, fixed costs, tariffs, an excluded country, country caps (one on
all minerals, one on a subset), a supplier share, a supplier count limit, per
mineral spend caps (one of them tiny next to the budget), minerals in kg and
in t with prices from cents to millions per unit. ``make_request(...)`` is a
pure function of its arguments: the same seed gives the same request.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from models import AllocationRequest

ROOT = Path(__file__).resolve().parent.parent
DLA = ROOT / "service" / "examples" / "dla-2025.json"

COUNTRIES = [
    "US",
    "CA",
    "AU",
    "BR",
    "CL",
    "FI",
    "SE",
    "NO",
    "DE",
    "JP",
    "KR",
    "IN",
    "ZA",
    "MA",
    "ID",
    "PH",
    "VN",
    "KZ",
    "PE",
    "MX",
    "CD",
    "ZM",
    "CN",
    "RU",
]
TARIFFS = {"CN": 1.0, "RU": 0.5, "ID": 0.1, "VN": 0.25}


@dataclass(frozen=True, slots=True)
class Case:
    """One benchmark instance and how long a contender may spend on it."""

    name: str
    minerals: int
    offers: int
    objective: str
    body: dict  # the JSON request body

    @property
    def request(self) -> AllocationRequest:
        return AllocationRequest.model_validate(self.body)

    @property
    def time_limit_s(self) -> float:
        return self.body["options"]["time_limit_s"]

    @property
    def mip_gap(self) -> float:
        return self.body["options"]["mip_gap"]


def dla_case() -> Case:
    body = json.loads(DLA.read_text())["request"]
    body = {**body, "options": {"time_limit_s": 30.0, "mip_gap": 1e-4}}
    return Case("dla-2025", len(body["minerals"]), len(body["suppliers"]), body["objective"], body)


def make_request(
    n_minerals: int,
    offers_per_mineral: int,
    objective: str = "max_coverage",
    seed: int = 0,
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
) -> dict:
    """A request body (plain JSON data) with every feature of the contract."""
    rng = random.Random(f"{seed}/{n_minerals}/{offers_per_mineral}/{objective}")
    minerals, suppliers = [], []
    full_cost = 0.0  # what buying every target at list price would cost
    for j in range(n_minerals):
        unit = "kg" if j % 3 == 1 else "t"
        price = _log_uniform(rng, 0.05, 5e4) if unit == "kg" else _log_uniform(rng, 50.0, 2e6)
        target = _log_uniform(rng, 1e3, 1e6) if unit == "kg" else _log_uniform(rng, 5.0, 2e4)
        mid = f"m{j:03d}"
        mineral = {
            "id": mid,
            "unit": unit,
            "target": _round(target),
            "weight": rng.choice([1, 1, 2, 3]),
            "market_price": _round(price),
        }
        if j % 5 == 2:
            mineral["min_quantity"] = _round(0.2 * target)
        if j % 4 == 3:
            mineral["max_spend"] = _round(0.5 * price * target)
        if j % 7 == 5:
            mineral["max_quantity"] = _round(1.5 * target)
        minerals.append(mineral)
        full_cost += price * target
        for k in range(offers_per_mineral):
            suppliers.append(_offer(rng, mid, k, offers_per_mineral, price, target))
    if n_minerals > 1:  # the trap: a cap of a few thousand inside a budget of millions or billions
        cheap = minerals[1]
        cheap["max_spend"] = _round(max(2_700.0, 0.05 * cheap["market_price"] * cheap["target"]))
    budget = 0.6 * full_cost if objective == "max_coverage" else 5.0 * full_cost
    if objective == "min_cost":
        for m in minerals:
            m.pop("max_spend", None)
            m.pop("min_quantity", None)
            m.pop("max_quantity", None)
    subset = [m["id"] for m in minerals[::3]]
    policy = {
        "tariffs": TARIFFS,
        "excluded_countries": ["RU"] if seed % 2 == 0 else [],
        "country_caps": [
            {"countries": ["CN"], "max_share": 0.25, "minerals": None},
            {"countries": ["KZ", "RU", "CD"], "max_share": 0.3, "minerals": subset},
        ],
        "max_supplier_share": 0.5 if offers_per_mineral >= 6 else 1.0,
    }
    if offers_per_mineral >= 6:
        policy["max_suppliers"] = max(3, offers_per_mineral // 5)
    return {
        "budget": _round(budget),
        "objective": objective,
        "minerals": minerals,
        "suppliers": suppliers,
        "policy": policy,
        "options": {"time_limit_s": time_limit_s, "mip_gap": mip_gap},
    }


def _offer(rng: random.Random, mid: str, k: int, n: int, price: float, target: float) -> dict:
    capacity = _round(target * rng.uniform(0.15, 0.6) * (3.0 / n if n < 6 else 1.0))
    p = price * rng.uniform(0.8, 1.4)
    offer: dict = {"id": f"{mid}-o{k:03d}", "mineral": mid, "country": rng.choice(COUNTRIES), "capacity": capacity}
    kind = rng.random()
    if kind < 0.4:
        offer["unit_price"] = _round(p)
    elif kind < 0.6:  # volume discount, incremental: non-convex, needs order binaries
        offer["price_tiers"] = _tiers(rng, capacity, p, falling=True)
    elif kind < 0.75:  # rising incremental prices: convex, no binaries needed
        offer["price_tiers"] = _tiers(rng, capacity, p, falling=False)
    else:  # all-units discount
        offer["price_tiers"] = _tiers(rng, capacity, p, falling=True)
        offer["discount"] = "all_units"
    extra = rng.random()
    if extra < 0.2:
        offer["min_order"] = _round(capacity * rng.uniform(0.1, 0.3))
    elif extra < 0.35:
        lot = _round(capacity / rng.randint(4, 40))
        offer["lot_size"] = lot
        if rng.random() < 0.5:
            offer["min_order"] = _round(min(capacity, 2 * lot))
    if rng.random() < 0.2:
        offer["fixed_cost"] = _round(p * capacity * rng.uniform(0.01, 0.05))
    return offer


def _tiers(rng: random.Random, capacity: float, p: float, falling: bool) -> list[dict]:
    count = rng.randint(2, 4)
    cuts = sorted(rng.uniform(0.1, 0.9) for _ in range(count - 1))
    out, price = [], p
    for c in cuts:
        out.append({"up_to": _round(c * capacity), "unit_price": _round(price)})
        price *= rng.uniform(0.85, 0.97) if falling else rng.uniform(1.03, 1.15)
    out.append({"up_to": None, "unit_price": _round(price)})
    # rounding may merge breakpoints: keep them strictly increasing
    kept, last = [], 0.0
    for t in out:
        if t["up_to"] is None or t["up_to"] > last:
            kept.append(t)
            last = t["up_to"] or last
    return kept


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _round(x: float) -> float:
    return float(f"{x:.4g}")


# (minerals, offers per mineral, time limit s, mip gap): DLA-sized to 50,000 offers.
SIZES = [
    (5, 20, 30.0, 1e-4),
    (10, 50, 30.0, 1e-4),
    (20, 100, 60.0, 1e-3),
    (40, 250, 60.0, 1e-2),
    (200, 250, 120.0, 1e-2),
]


def suite(quick: bool = False, largest: int | None = None, seed: int = 1) -> list[Case]:
    """The benchmark set: DLA plus generated sizes, both objectives."""
    cases = [dla_case()]
    sizes = SIZES[:2] if quick else SIZES
    for name, n_min, per, objective, limit, gap in _generated(sizes):
        if largest is None or n_min * per <= largest:
            body = make_request(n_min, per, objective, seed, limit, gap)
            cases.append(Case(name, n_min, n_min * per, objective, body))
    return cases


def named(name: str, seed: int = 1) -> Case:
    """The suite's case called ``name`` (from ``seed``), generated alone (the suite's bodies take seconds)."""
    if name == "dla-2025":
        return dla_case()
    for spec, n_min, per, objective, limit, gap in _generated(SIZES):
        if spec == name:
            return Case(name, n_min, n_min * per, objective, make_request(n_min, per, objective, seed, limit, gap))
    names = ["dla-2025", *(spec for spec, *_ in _generated(SIZES))]
    raise KeyError(f"no case {name!r}; one of {', '.join(names)}")


def _generated(sizes) -> list[tuple[str, int, int, str, float, float]]:
    """(name, minerals, offers per mineral, objective, time limit, gap) of each generated case."""
    out = []
    for n_min, per, limit, gap in sizes:
        objectives = ["max_coverage"] if n_min * per > 10_000 else ["max_coverage", "min_cost"]
        out += [(f"{n_min}x{per}-{objective}", n_min, per, objective, limit, gap) for objective in objectives]
    return out


# --- the hard family -----------------------------------------------------------------
#
# Requests as real purchase requests come: a minimum order of 30-60% of capacity on every
# offer, lots on most, at most two suppliers per mineral, none supplying more than half of
# it. Under min_cost the two suppliers of a mineral then buy exactly half each; whole lots
# make that a matter of pairing offers whose lots agree (or one without lots).

# (minerals, offers per mineral, the request's own time limit s): 40 to 3,000 offers.
HARD_SIZES = [
    (2, 20, 5.0),
    (5, 20, 5.0),
    (8, 25, 10.0),
    (10, 40, 10.0),
    (20, 50, 20.0),
    (30, 100, 30.0),
]
HARD_GAP = 1e-4


def hard_request(
    n_minerals: int, offers_per_mineral: int, objective: str = "max_coverage", seed: int = 0, time_limit_s: float = 10.0
) -> dict:
    """A hard request body: ``make_request``'s minerals and policy, offers as real ones come (see above)."""
    body = make_request(n_minerals, offers_per_mineral, objective, seed, time_limit_s, HARD_GAP)
    rng = random.Random(f"hard/{seed}/{n_minerals}/{offers_per_mineral}/{objective}")
    minerals = {m["id"]: m for m in body["minerals"]}
    suppliers = []
    for k, old in enumerate(body["suppliers"]):
        m = minerals[old["mineral"]]
        suppliers.append(_hard_offer(rng, old, m["target"], k))
    body["suppliers"] = suppliers
    body["policy"]["max_suppliers"] = 2
    body["policy"]["max_supplier_share"] = 0.5
    return body


def _hard_offer(rng: random.Random, old: dict, target: float, k: int) -> dict:
    """``old``'s id, mineral, country and price form, with a capacity of 0.3-1.2 targets, a minimum
    order of 30-60% of it, lots on 70% of offers; fixed costs on a fifth."""
    capacity = _round(target * rng.uniform(0.3, 1.2))
    first = old["unit_price"] if "unit_price" in old else old["price_tiers"][0]["unit_price"]
    offer: dict = {"id": old["id"], "mineral": old["mineral"], "country": old["country"], "capacity": capacity}
    if "unit_price" in old:
        offer["unit_price"] = first
    else:
        falling = old.get("discount") == "all_units" or old["price_tiers"][-1]["unit_price"] < first
        offer["price_tiers"] = _tiers(rng, capacity, first, falling=falling)
        if "discount" in old:
            offer["discount"] = old["discount"]
    if rng.random() < 0.7:
        lot = _round(capacity / rng.randint(3, 30))
        offer["lot_size"] = lot
        offer["min_order"] = _round(min(capacity, lot * math.ceil(capacity * rng.uniform(0.3, 0.6) / lot)))
    else:
        offer["min_order"] = _round(capacity * rng.uniform(0.3, 0.6))
    if rng.random() < 0.2:
        offer["fixed_cost"] = _round(first * capacity * rng.uniform(0.01, 0.05))
    return offer


def hard_suite(seeds: tuple[int, ...] = (1,), largest: int | None = None) -> list[Case]:
    """The hard family: every size of ``HARD_SIZES``, both objectives, each seed."""
    cases = []
    for n_min, per, limit in HARD_SIZES:
        if largest is not None and n_min * per > largest:
            continue
        for objective in ("max_coverage", "min_cost"):
            for seed in seeds:
                body = hard_request(n_min, per, objective, seed, limit)
                cases.append(Case(hard_name(n_min * per, objective, seed), n_min, n_min * per, objective, body))
    return cases


def hard_name(offers: int, objective: str, seed: int) -> str:
    return f"hard-{offers}-{objective}-s{seed}"


# --- the mixed family ------------------------------------------------------------------
#
# The set's requests share one mix of features (40% single prices, a fifth with minimum
# orders, 15% with lots, a count limit of a fifth of the offers). The mixed family draws the
# mix per request, so that ratios judged on it are not one mix's luck: how many minerals share
# the offers, how many offers have tiers and of which kind, minimum orders, lots and fixed
# costs, the supplier count and share rules, country caps or none.

# (offers, the request's own time limit s): the mid-size requests the set under-represents.
MIXED_SIZES = [(100, 20.0), (200, 20.0), (400, 30.0), (600, 30.0)]
MIXED_GAP = 1e-4


def mixed_mix(offers: int, objective: str, seed: int) -> dict:
    """One request's mix of features (each share: the probability that an offer has it)."""
    rng = random.Random(f"mixed/{seed}/{offers}/{objective}")
    minerals = rng.choice([m for m in (5, 10, 20) if offers // m >= 5])
    suppliers = rng.choice([None, 2, 3, 5])
    # a share cap the count still allows to cover a target (count x share >= 1)
    shares = [None] + [s for s in (0.3, 0.5, 0.7) if suppliers is None or suppliers * s >= 1]
    return {
        "minerals": minerals,
        "tiers": rng.choice([0.0, 0.4, 0.8]),
        "all_units": rng.choice([0.0, 0.5, 1.0]),  # of the tiered offers
        "min_order": rng.choice([0.0, 0.3, 0.7]),
        "lots": rng.choice([0.0, 0.3, 0.7]),
        "fixed_cost": rng.choice([0.0, 0.2, 0.5]),
        "max_suppliers": suppliers,
        "max_supplier_share": rng.choice(shares),
        "country_caps": rng.random() < 0.5,
    }


def mixed_request(offers: int, objective: str, seed: int, time_limit_s: float = 20.0) -> dict:
    """A request body of ``offers`` offers with a mix of features drawn from ``seed`` (``mixed_mix``)."""
    mix = mixed_mix(offers, objective, seed)
    rng = random.Random(f"mixed-offers/{seed}/{offers}/{objective}")
    n_min = mix["minerals"]
    per = offers // n_min
    body = make_request(n_min, per, objective, seed, time_limit_s, MIXED_GAP)
    targets = {m["id"]: m["target"] for m in body["minerals"]}
    body["suppliers"] = [_mixed_offer(rng, old, targets[old["mineral"]], mix) for old in body["suppliers"]]
    policy = body["policy"]
    policy.pop("max_suppliers", None)
    policy.pop("max_supplier_share", None)
    if mix["max_suppliers"] is not None:
        policy["max_suppliers"] = mix["max_suppliers"]
    if mix["max_supplier_share"] is not None:
        policy["max_supplier_share"] = mix["max_supplier_share"]
    if not mix["country_caps"]:
        policy["country_caps"] = []
    return body


def _mixed_offer(rng: random.Random, old: dict, target: float, mix: dict) -> dict:
    """``old``'s id, mineral and country; capacity 0.2-0.9 targets; price form and extras by ``mix``."""
    capacity = _round(target * rng.uniform(0.2, 0.9))
    first = old["unit_price"] if "unit_price" in old else old["price_tiers"][0]["unit_price"]
    offer: dict = {"id": old["id"], "mineral": old["mineral"], "country": old["country"], "capacity": capacity}
    if rng.random() < mix["tiers"]:
        if rng.random() < mix["all_units"]:
            offer["price_tiers"] = _tiers(rng, capacity, first, falling=True)
            offer["discount"] = "all_units"
        else:  # incremental: mostly volume discounts (non-convex), some rising prices
            offer["price_tiers"] = _tiers(rng, capacity, first, falling=rng.random() < 0.7)
    else:
        offer["unit_price"] = first
    least = capacity * rng.uniform(0.1, 0.5) if rng.random() < mix["min_order"] else 0.0
    if rng.random() < mix["lots"]:
        lot = _round(capacity / rng.randint(3, 40))
        offer["lot_size"] = lot
        least = lot * math.ceil(least / lot) if least else 0.0
    if least:
        offer["min_order"] = _round(min(capacity, least))
    if rng.random() < mix["fixed_cost"]:
        offer["fixed_cost"] = _round(first * capacity * rng.uniform(0.01, 0.05))
    return offer


def mixed_suite(seeds: tuple[int, ...] = (1,), largest: int | None = None) -> list[Case]:
    """The mixed family: every size of ``MIXED_SIZES``, both objectives, each seed."""
    cases = []
    for offers, limit in MIXED_SIZES:
        if largest is not None and offers > largest:
            continue
        for objective in ("max_coverage", "min_cost"):
            for seed in seeds:
                body = mixed_request(offers, objective, seed, limit)
                name, n_min = f"mixed-{offers}-{objective}-s{seed}", len(body["minerals"])
                cases.append(Case(name, n_min, len(body["suppliers"]), objective, body))
    return cases
