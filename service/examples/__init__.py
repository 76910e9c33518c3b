"""Built-in example requests, shipped as JSON next to this file."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models import AllocationRequest


class ExampleSummary(BaseModel):
    """A built-in example, as ``GET /v1/examples`` lists it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Its name in `GET /v1/examples/{name}` (and `stockpile solve --example`).")
    title: str
    description: str


class Example(ExampleSummary):
    """A built-in example: what it shows, and the request body to post to `POST /v1/allocations`."""

    notes: list[str] = Field(description="Where its figures come from and what to look for in the answer.")
    request: AllocationRequest


@lru_cache
def catalogue() -> dict[str, dict[str, Any]]:
    """name -> {name, title, description, notes, request}."""
    out = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            out[data["name"]] = data
    return dict(sorted(out.items()))  # by name: dla-2025 before dla-2025-disruption (file names sort otherwise)


def names() -> list[str]:
    return list(catalogue())


@lru_cache
def example(name: str) -> Example:
    """A built-in example, validated (KeyError if unknown)."""
    return Example.model_validate(catalogue()[name])


def summaries() -> list[ExampleSummary]:
    return [
        ExampleSummary(name=e["name"], title=e["title"], description=e["description"]) for e in catalogue().values()
    ]


def example_request(name: str) -> AllocationRequest:
    """The validated request of a built-in example (KeyError if unknown)."""
    return AllocationRequest.model_validate(catalogue()[name]["request"])
