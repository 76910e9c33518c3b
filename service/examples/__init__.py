"""Built-in example requests, shipped as JSON next to this file."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from models import AllocationRequest


@lru_cache
def catalogue() -> dict[str, dict[str, Any]]:
    """name -> {name, title, description, notes, request}."""
    out = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            out[data["name"]] = data
    return out


def names() -> list[str]:
    return list(catalogue())


def example_request(name: str) -> AllocationRequest:
    """The validated request of a built-in example (KeyError if unknown)."""
    return AllocationRequest.model_validate(catalogue()[name]["request"])
