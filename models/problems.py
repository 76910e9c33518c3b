"""Turn pydantic validation errors into problems a planner can act on.

Each problem has a path in the request (``suppliers[3].price_tiers[1].up_to``)
and a short message; the HTTP layer, the command line and the spreadsheet
adapter all report problems in this one shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    message: str
    code: str


# Tags of discriminated unions (a change's ``op``): pydantic puts the tag in an error's location
# after the item's index; a path names the item's field without it (``changes[1].factor``).
UNION_TAGS: set[str] = set()


def format_path(loc: Sequence[Any]) -> str:
    """``('suppliers', 3, 'price_tiers', 1, 'up_to')`` -> ``suppliers[3].price_tiers[1].up_to``."""
    out = ""
    after_index = False
    for part in loc:
        if part == "[key]":  # pydantic's marker for a problem with a mapping's key, not its value
            continue
        if after_index and part in UNION_TAGS:
            after_index = False
            continue
        after_index = isinstance(part, int)
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(request)"


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "finite_number":
        return "must be a finite number (NaN and infinity are not allowed)"
    if kind == "extra_forbidden":
        return "unknown field; check the spelling against the documented fields"
    if kind == "missing":
        return "this field is required"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        symbol = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        if not ctx:
            return str(error["msg"]).replace("Input should be", "must be")
        bound = next(iter(ctx.values()))
        return f"must be {symbol} {bound:g}" if isinstance(bound, (int, float)) else f"must be {symbol} {bound}"
    if kind == "too_long":
        return f"too many items: at most {ctx.get('max_length')} allowed"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        return "must be a number" if kind.startswith("float") else "must be a whole number"
    if kind == "enum":
        return f"must be one of {ctx.get('expected')}"
    if kind == "json_invalid":
        return f"the body is not valid JSON ({ctx.get('error', 'parse error')})"
    if kind == "model_type" or kind == "model_attributes_type":
        return "must be a JSON object with named fields"
    if kind == "list_type":
        return "must be a list"
    if kind == "dict_type":
        return "must be an object (a mapping)"
    if kind == "string_type":
        return "must be text"
    return str(error["msg"]).removeprefix("Value error, ")


def problems_from_errors(errors: Iterable[dict[str, Any]], drop_prefix: int = 0) -> list[Problem]:
    """Problems from ``ValidationError.errors()``; ``drop_prefix`` strips e.g. FastAPI's ``body``."""
    out = []
    for error in errors:
        loc = tuple(error.get("loc", ()))[drop_prefix:]
        if error["type"] == "json_invalid":
            loc = ()  # the location is a character offset in the body, not a field
        out.append(Problem(path=format_path(loc), message=_message(error), code=str(error["type"])))
    return out


def problems_from_validation_error(exc: ValidationError) -> list[Problem]:
    return problems_from_errors(exc.errors(include_url=False))
