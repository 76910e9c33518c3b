"""Schemathesis hooks: valid data for the rules a JSON schema cannot state.

The schema states every per-field rule validation enforces (types, bounds, lengths, country codes,
one price form per offer, one frontier form, each change's value for its field, each job kind's
input). A few rules relate several values, and JSON Schema has no words for them:

* ids are unique among minerals and among offers, one offer per supplier and mineral, one tariff per
  country (codes compared upper-cased);
* an offer's ``mineral`` and a country cap's ``minerals`` name declared minerals;
* ``min_quantity <= max_quantity``, ``min_order <= capacity``, ``lot_size <= capacity``;
* price tiers rise, only the last is open (``up_to`` null) or reaches the capacity;
* a change names what the request has (a filter matches an offer, ``set_mineral`` a mineral) and
  keeps a mineral's floor under its cap; variants have their own names, not ``base``;
* a frontier's ``to`` is above its ``from``;
* an uploaded file is a real workbook (XLSX) or UTF-8 CSV tables with the documented columns.

Others depend on the server's state or settings: webhooks need a signing secret (this server has
none), a comparison has at most ``max_variants`` variants, a conditional write names the scenario's
current ``ETag``, a scenario's metric names one of its minerals and a figure its result has, and an
action's changes apply to the saved request.

``map_case`` rewrites *positive* JSON cases (those schemathesis generated as schema-valid and expects
to be accepted) so that the rules of the first list hold too, changing as little as it can, keyed by
the body's shape rather than by path (an allocation request wherever it appears: the body, its
``request``, a job's ``input``), so that new endpoints taking these shapes are covered as they come.
``fit_to_server`` does the same for the second list, asking the live server what it holds, and
``uploads`` gives positive upload cases real files. Negative cases are left alone, and every check
runs as configured. Used by ``test_reliability_schema.py``; the command line takes ``map_case`` with
``SCHEMATHESIS_HOOKS=tests.reliability.schema_hooks st run URL/openapi.json`` (not the other two).
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Any

import httpx
import schemathesis
from schemathesis.generation.modes import GenerationMode

from models import AllocationRequest
from models.request import LARGEST, SMALLEST
from service.files import XLSX
from service.jobs import encode_cursor
from service.settings import Settings
from service.spreadsheet import template_bytes

CSV_FILES = {
    "minerals": b"id,target\ncobalt,20\n",
    "suppliers": b"id,mineral,country,capacity,unit_price\na,cobalt,AU,15,35000\nb,cobalt,CN,50,29000\n",
    "policy": b"rule,countries,value\ntariff,CN,1\n",
}
SMALL_REQUEST = {
    "budget": 1_000_000,
    "minerals": [{"id": "cobalt", "target": 20}],
    "suppliers": [
        {"id": "a", "mineral": "cobalt", "country": "AU", "capacity": 15, "unit_price": 35_000},
        {"id": "b", "mineral": "cobalt", "country": "CN", "capacity": 50, "unit_price": 29_000},
    ],
    "policy": {"tariffs": {"CN": 1.0}},
}


@lru_cache(maxsize=1)
def workbook() -> bytes:
    return template_bytes(AllocationRequest.model_validate(SMALL_REQUEST))


def _unique(value: Any, seen: set[Any], index: int) -> Any:
    """``value``, or a variant of it not yet in ``seen`` (ids keep their 1..200 characters)."""
    if not isinstance(value, str):
        return value
    while value in seen:
        value = (f"{index}~" + value)[:200]
        index += 1
    seen.add(value)
    return value


def _tiers(tiers: list[Any]) -> list[Any]:
    """Rising ``up_to`` from the values given, the last tier open."""
    limits = sorted({t["up_to"] for t in tiers if isinstance(t, dict) and isinstance(t.get("up_to"), int | float)})
    limits = limits[: len(tiers) - 1]
    return [{**tiers[i], "up_to": v} for i, v in enumerate(limits)] + [{**tiers[len(limits)], "up_to": None}]


def consistent(body: dict[str, Any]) -> dict[str, Any]:
    """An allocation request ``body`` with the cross-field rules above made true."""
    body = dict(body)
    minerals = [dict(m) for m in body.get("minerals", [])]
    seen: set[Any] = set()
    for i, m in enumerate(minerals):
        m["id"] = _unique(m["id"], seen, i)
        if m.get("max_quantity") is not None and m.get("min_quantity", 0) > m["max_quantity"]:
            m["min_quantity"] = m["max_quantity"]
    ids = [m["id"] for m in minerals]
    offers = [dict(s) for s in body.get("suppliers", [])]
    seen = set()
    for i, s in enumerate(offers):
        s["id"] = _unique(s["id"], seen, i)
        if s["mineral"] not in ids:
            s["mineral"] = ids[i % len(ids)]
        if s.get("min_order", 0) > s["capacity"]:
            s["min_order"] = s["capacity"]
        if s.get("lot_size") is not None and s["lot_size"] > s["capacity"]:
            s["lot_size"] = s["capacity"]
        if s.get("price_tiers"):
            s["price_tiers"] = _tiers(s["price_tiers"])
    companies = [(s.get("name") or s["id"], s["mineral"]) for s in offers]
    if len(set(companies)) < len(companies):  # ids are unique now: let each offer be its own company
        for s in offers:
            s["name"] = None
    body["minerals"], body["suppliers"] = minerals, offers
    if isinstance(body.get("policy"), dict):
        policy = body["policy"] = dict(body["policy"])
        tariffs: dict[str, Any] = {}
        for code, rate in (policy.get("tariffs") or {}).items():
            if not any(code.strip().upper() == c.strip().upper() for c in tariffs):
                tariffs[code] = rate
        policy["tariffs"] = tariffs
        policy["country_caps"] = [
            {
                **cap,
                "minerals": None
                if cap.get("minerals") is None
                else [ids[j % len(ids)] for j, _ in enumerate(cap["minerals"])],
            }
            for cap in policy.get("country_caps") or []
        ]
    return body


def _is_request(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("minerals"), list) and bool(value["minerals"])


def _tariffs(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, rate in value.items():
        if not any(code.strip().upper() == c.strip().upper() for c in out):
            out[code] = rate
    return out


def fitting_changes(changes: list[Any], request: dict[str, Any]) -> list[Any]:
    """``changes`` made to apply to ``request`` (a consistent one), in order."""
    ids = [m["id"] for m in request["minerals"]]
    offers = request["suppliers"]
    state = {m["id"]: {"min": m.get("min_quantity", 0) or 0, "max": m.get("max_quantity")} for m in request["minerals"]}
    budget = request["budget"]
    live = {  # each usable offer's prices and capacity, as the changes so far leave them
        o["id"]: {
            "prices": [o["unit_price"]]
            if o.get("unit_price") is not None
            else [t["unit_price"] for t in o["price_tiers"]],
            "capacity": o["capacity"],
            "floor": max(o.get("min_order", 0) or 0, o.get("lot_size") or 0, SMALLEST),
        }
        for o in offers
    }
    out = []
    for i, change in enumerate(changes):
        change = dict(change) if isinstance(change, dict) else change
        op = change.get("op") if isinstance(change, dict) else None
        if op == "set_budget":
            budget = change["value"]
        elif op == "scale_budget":  # (scaled results stay within the bounds, or the change cannot apply)
            change["factor"] = _factor(change["factor"], [budget], [budget])
            budget *= change["factor"]
        elif op in ("scale_prices", "scale_capacity"):
            offer = offers[i % len(offers)]
            picked = {"mineral": offer["mineral"], "supplier": offer["id"], "country": offer["country"].strip().upper()}
            for key, value in picked.items():
                if change.get(key) is not None:
                    change[key] = value
            matched = [
                o["id"]
                for o in offers
                if o["id"] in live and all(change.get(k) in (None, v) for k, v in _filters(o).items())
            ]
            if op == "scale_prices":
                prices = [p for o in matched for p in live[o]["prices"]]
                change["factor"] = _factor(change["factor"], prices, prices)
                for o in matched:
                    live[o]["prices"] = [p * change["factor"] for p in live[o]["prices"]]
            elif change["factor"] > 0:
                capacities = [live[o]["capacity"] for o in matched]
                change["factor"] = _factor(change["factor"], [LARGEST], capacities)
                for o in matched:
                    live[o]["capacity"] *= change["factor"]
                    if live[o]["capacity"] < live[o]["floor"]:
                        del live[o]
            else:
                for o in matched:
                    del live[o]
        elif op == "set_mineral":
            change["mineral"] = mineral = ids[i % len(ids)]
            field, value, now = change["field"], change.get("value"), state[mineral]
            if field == "min_quantity":
                value = value or 0
                if now["max"] is not None and value > now["max"]:
                    change["value"] = value = now["max"]
                now["min"] = value
            elif field == "max_quantity":
                if value is not None and value < now["min"]:
                    change["value"] = value = now["min"]
                now["max"] = value
        elif op == "set_policy" and isinstance(change.get("value"), list | dict):
            if change["field"] == "tariffs":
                change["value"] = _tariffs(change["value"])
            elif change["field"] == "country_caps":
                change["value"] = [
                    {
                        **cap,
                        "minerals": None
                        if cap.get("minerals") is None
                        else [ids[j % len(ids)] for j, _ in enumerate(cap["minerals"])],
                    }
                    for cap in change["value"]
                ]
        out.append(change)
    return out


def _filters(offer: dict[str, Any]) -> dict[str, Any]:
    return {"mineral": offer["mineral"], "supplier": offer["id"], "country": offer["country"].strip().upper()}


def _factor(factor: float, smallest: list[float], largest: list[float]) -> float:
    """``factor`` brought within what keeps every value scaled in the bounds (1e-6..1e15, with a margin)."""
    low = max([SMALLEST * (1 + 1e-9) / v for v in smallest], default=SMALLEST)
    high = min([LARGEST * (1 - 1e-9) / v for v in largest], default=LARGEST)
    return min(max(factor, low, SMALLEST), high, LARGEST)


def fitting_variants(variants: list[Any], request: dict[str, Any]) -> list[Any]:
    """Variants with names of their own (not ``base``) and changes that apply to ``request``."""
    seen = {"base"}
    out = []
    for i, variant in enumerate(variants):
        variant = dict(variant)
        name = variant["name"]
        while name in seen:
            name = (f"{i}~" + name)[:100]
        seen.add(name)
        variant["name"] = name
        variant["changes"] = fitting_changes(variant.get("changes", []), request)
        out.append(variant)
    return out


# The engine is exercised on figures that span at most about 1e13 within a request (money 1e-2 to
# 1e11, quantities 1e-2 to 1e6): beyond that (a price of 1e15 beside one of 30 in one offer's
# tiers, say) its answer can fail its own check, a 500: the engine's known limit, in
# docs/reliability.md. Validation accepts 1e-6..1e15, which the negative cases still probe.
ANALYSIS_MONEY = (1e-2, 1e11)
ANALYSIS_QUANTITY = (1e-2, 1e6)
_MONEY = {"budget", "unit_price", "fixed_cost", "max_spend", "market_price", "from", "to", "value"}
_QUANTITY = {"target", "capacity", "up_to", "min_order", "lot_size", "min_quantity", "max_quantity"}
MOST_CAPS = 4  # each cap is a rule whose lifting the policy-costs endpoint solves


def _within(value: Any, bounds: tuple[float, float]) -> Any:
    if not isinstance(value, int | float) or isinstance(value, bool) or value == 0:
        return value
    return min(max(value, bounds[0]), bounds[1])


def narrowed(value: Any, key: str | None = None) -> Any:
    """``value`` with money and quantities brought within the analyses' range (see ANALYSIS_MONEY)."""
    if isinstance(value, dict):
        out = {k: narrowed(v, k) for k, v in value.items()}
        if isinstance(out.get("country_caps"), list):
            out["country_caps"] = out["country_caps"][:MOST_CAPS]
        if isinstance(out.get("weight"), int | float) and not isinstance(out["weight"], bool):
            out["weight"] = min(max(out["weight"], 1e-2), 1e3)
        return out
    if isinstance(value, list):
        return [narrowed(v, key) for v in value]
    if key in _MONEY:
        return _within(value, ANALYSIS_MONEY)
    if key in _QUANTITY:
        return _within(value, ANALYSIS_QUANTITY)
    if key == "budgets":
        return _within(value, ANALYSIS_MONEY)
    return value


def fitting_disruptions(disruptions: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A disruption model naming only the request's offers, minerals and countries (none, when the
    request has none of them: an unknown name is a 422)."""
    out = dict(disruptions)
    offers = [s["id"] for s in request.get("suppliers", [])]
    # (a price shock names a mineral some offer sells: one without any is a 422)
    minerals = [
        m["id"]
        for m in request.get("minerals", [])
        if any(s["mineral"] == m["id"] for s in request.get("suppliers", []))
    ]
    countries = sorted({str(s["country"]).strip().upper() for s in request.get("suppliers", [])})
    for key, names in (("suppliers", offers), ("price_shocks", minerals), ("countries", countries)):
        given = out.get(key)
        if isinstance(given, dict) and names:
            out[key] = {names[i % len(names)]: value for i, value in enumerate(given.values())}
        elif isinstance(given, dict):
            out[key] = {}
    return out


def fitting(body: dict[str, Any], request: dict[str, Any] | None = None) -> dict[str, Any]:
    """``body`` with the rules a schema cannot state made true, by its shape: an allocation request,
    a body carrying one as ``request`` (or relating to ``request`` given: a saved scenario's), a job
    submission (its ``input``), changes, variants, a frontier's range; webhooks left out."""
    if _is_request(body):
        return consistent(narrowed(body))
    body = dict(body)
    if _is_request(body.get("request")):
        body = narrowed(body)
        body["request"] = request = consistent(body["request"])
    if "kind" in body and isinstance(body.get("input"), dict):
        body["input"] = fitting(body["input"])
    if body.get("webhook_url") is not None:  # (a job's may be null; an action's body leaves it out)
        if "kind" in body:
            body["webhook_url"] = None
        else:
            del body["webhook_url"]
    if request is not None and isinstance(body.get("disruptions"), dict):
        body["disruptions"] = fitting_disruptions(body["disruptions"], request)
    if isinstance(body.get("plan"), dict):  # a plan that keeps every rule of the request is the optimal one
        body["plan"] = "optimal"
    if "disruptions" in body and isinstance(body.get("draws"), int | float):  # (each a solve in replan mode)
        body["draws"] = max(1, min(int(body["draws"]), 50))
        if body.get("details") is True and body["draws"] > 50:
            body["details"] = False
    if request is not None:
        if isinstance(body.get("changes"), list):
            body["changes"] = fitting_changes(body["changes"], request)
        if isinstance(body.get("variants"), list):  # (as many as the server's max_variants setting allows)
            body["variants"] = fitting_variants(body["variants"][: Settings().max_variants], request)
    low, high = body.get("from"), body.get("to")
    if isinstance(low, int | float) and isinstance(high, int | float) and high <= low:
        body["from"], body["to"] = (low / 2, low) if low >= LARGEST / 2 else (low, low * 2)
    return body


def _positive(case: Any) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if not _positive(case):
        return case
    if isinstance(case.body, dict):
        case.body = fitting(case.body)
    if case.headers:  # If-None-Match means something only as "*" (create, never overwrite)
        for name in [h for h in case.headers if h.lower() == "if-none-match" and case.headers[h] != "*"]:
            del case.headers[name]
    if case.query and isinstance(case.query.get("cursor"), str):  # an opaque cursor, as the API gives them
        case.query["cursor"] = encode_cursor(1 + zlib.crc32(case.query["cursor"].encode()))
    return case


def fit_to_server(case: Any, client: httpx.Client) -> None:
    """A positive case made to fit what the server holds: conditional writes name the scenario's
    current ``ETag``, a metric names a mineral and a figure the result has, an action's body relates
    to the saved request. (A scenario that does not exist is left so: the answer is a documented 404.)"""
    path = case.operation.path
    if not _positive(case) or not path.startswith("/v1/scenarios/{name}"):
        return
    name = case.path_parameters["name"]
    saved = client.get(f"/v1/scenarios/{name}")
    if saved.status_code != 200:
        if case.headers:
            case.headers.pop("if-match", None)
            case.headers.pop("If-Match", None)
        return
    scenario = saved.json()
    method = case.operation.method.upper()
    if method in ("PUT", "DELETE") and path == "/v1/scenarios/{name}" and case.headers:
        for header in list(case.headers):
            if header.lower() == "if-match":
                case.headers[header] = saved.headers["etag"]
            elif header.lower() == "if-none-match":
                del case.headers[header]
    elif method == "POST" and path == "/v1/scenarios/{name}/stress-test" and isinstance(case.body, dict):
        body = dict(case.body)
        if isinstance(body.get("disruptions"), dict):
            body["disruptions"] = fitting_disruptions(body["disruptions"], scenario["request"])
        if isinstance(body.get("plan"), dict):
            body["plan"] = "optimal"
        case.body = body
    elif path == "/v1/scenarios/{name}/value" and case.query:
        case.query["metric"] = _metric(case.query.get("metric", ""), scenario, client, name)
    elif method == "POST" and path == "/v1/scenarios/{name}/compare":
        body = dict(case.body) if isinstance(case.body, dict) else {}
        if not body.get("variants") and not scenario["variants"]:
            body["variants"] = [{"name": "variant", "changes": []}]
        if body.get("variants"):
            body["variants"] = fitting_variants(body["variants"][: Settings().max_variants], scenario["request"])
        case.body = body


def _metric(metric: str, scenario: dict[str, Any], client: httpx.Client, name: str) -> str:
    what, _, of = metric.partition(":")
    minerals = [m["id"] for m in scenario["request"]["minerals"]]
    if what in ("coverage", "spend") and of not in minerals:
        return f"{what}:{minerals[0]}"
    if metric == "coverage_score":  # a score only a max_coverage solve with an allocation has
        status = client.get(f"/v1/scenarios/{name}/summary.csv").headers.get("x-stockpile-status")
        objective = scenario["request"].get("objective", "max_coverage")
        if objective != "max_coverage" or status not in ("optimal", "feasible"):
            return "total_spend"
    return metric


def uploads(case: Any) -> dict[str, Any]:
    """For a positive upload case, the request body to send instead: real files, the generated form fields.

    Passed to ``case.call`` (``files=``, ``data=``) rather than written into the case, whose
    metadata schemathesis cannot re-check once it holds binary parts (it would call them invalid).
    """
    if not _positive(case) or not isinstance(case.body, dict):
        return {}
    path = case.operation.path
    if case.operation.method.upper() != "POST" or path not in ("/v1/allocations/xlsx", "/v1/allocations/csv"):
        return {}
    if path.endswith("xlsx"):
        files = {"file": ("allocation.xlsx", workbook(), XLSX)} if "file" in case.body else {}
    else:
        files = {name: (f"{name}.csv", CSV_FILES[name], "text/csv") for name in CSV_FILES if name in case.body}
    fields = {k: str(v) for k, v in case.body.items() if k not in files and v is not None}
    return {"files": files, "data": fields}
