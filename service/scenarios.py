"""Saved scenarios: versioned requests on the server, run as jobs or read cell by cell.

* ``PUT`` stores a new version; ``If-Match`` (the ``ETag`` of a read) makes the save
  conditional on the version it replaces (412 on a stale one), ``If-None-Match: *`` on
  there being none. Every version stays readable.
* ``POST /v1/scenarios/{name}/{action}`` submits a job of the action's kind
  (``service.kinds.SCENARIO_ACTIONS``) on the current version; the job records the version.
* The spreadsheet endpoints (``value``, ``allocation.csv``, ``summary.csv``) solve the
  current version with query-string overrides (``service.overrides``) through the gateway;
  answers are kept in a bounded LRU cache keyed by (scenario, version, overrides), and a
  question asked again while it is being solved waits for that solve, so a sheet that
  recalculates many cells solves each distinct question once.
* Tokens: random, read-only, scoped to one scenario, stored as SHA-256 hashes, revocable;
  accepted (``?token=``) by the spreadsheet endpoints only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from models import AllocationRequest, AllocationResult, Problem
from models.analyses import MAX_VARIANTS, ComparisonRequest
from models.changes import Variant
from service.errors import InvalidRequest, NotAvailable, NotFound, PreconditionFailed, Unauthorized
from service.jobs import WEBHOOK_URL, JobService, JobView
from service.kinds import KINDS, SCENARIO_ACTIONS, Kind
from service.overrides import apply_overrides
from service.solving import SolveGateway
from service.spreadsheet.csvio import allocation_csv
from service.storage import Database
from service.storage import scenarios as S

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TOKEN_PREFIX = "spt_"


class ScenarioIn(BaseModel):
    request: AllocationRequest
    variants: list[Variant] = Field(default_factory=list, max_length=MAX_VARIANTS)
    description: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _variants_apply(self) -> ScenarioIn:
        if self.variants:  # each variant's changes apply to the request, as in a comparison
            ComparisonRequest.model_validate({"request": self.request, "variants": self.variants})
        return self


class ScenarioView(BaseModel):
    name: str
    version: int = Field(description="The version shown.")
    latest_version: int
    description: str | None
    request: dict[str, Any]
    variants: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    version_created_at: datetime


class ScenarioSummary(BaseModel):
    name: str
    version: int
    created_at: datetime
    updated_at: datetime


class TokenView(BaseModel):
    id: str
    scenario: str
    created_at: datetime
    revoked_at: datetime | None = None
    token: str | None = Field(default=None, description="Shown once, when the token is made.")


def action_body_schema(kind: Kind) -> dict[str, Any]:
    """The body ``POST /v1/scenarios/{name}/{action}`` takes for ``kind``: its input without what the
    scenario supplies (the request; a comparison's variants may come from it too), and ``webhook_url``.
    """
    webhook = {
        "type": "string",
        "maxLength": 2000,
        "pattern": WEBHOOK_URL,
        "description": "POSTed the job when it finishes.",
    }
    probe = kind.input_from_scenario({"request": {}, "variants": [], "description": None}, {"_probe": 1})
    if not isinstance(probe, dict) or "_probe" not in probe:  # the body is not read (but for webhook_url)
        return {"type": "object", "properties": {"webhook_url": webhook}}
    schema = kind.input.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    supplied = set(probe) - {"_probe"}
    schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k != "request"}
    schema["properties"]["webhook_url"] = webhook
    required = [k for k in schema.get("required", []) if k not in supplied]
    schema.pop("required", None)
    if required:
        schema["required"] = required
    schema.pop("title", None)
    return schema


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def etag(version: int) -> str:
    return f'"v{version}"'


def expected_version(if_match: str | None, if_none_match: str | None, current: int) -> int | None:
    """The version a write must replace (0: none), from its conditional headers; None: unconditional."""
    if if_none_match is not None and if_none_match.strip() == "*":
        return 0
    if if_match is None:
        return None
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags:
        if current == 0:
            raise PreconditionFailed("If-Match: * but there is no such scenario.")
        return current
    if etag(current) in tags:
        return current
    raise PreconditionFailed(
        f"If-Match names a version that is not the current one ({etag(current) if current else 'none'}); "
        "read the scenario again and apply your change to it.",
        etag(current) if current else None,
    )


def check_name(name: str) -> None:
    if not NAME.match(name):
        message = "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        raise InvalidRequest([Problem(path="name", message=message, code="name")])


def summary_csv(result: AllocationResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["mineral", "name", "unit", "target", "quantity", "coverage", "spend", "suppliers_used"])
    for m in result.minerals:
        writer.writerow(
            [m.id, m.name, m.unit, repr(m.target), repr(m.quantity), repr(m.coverage), repr(m.spend), m.suppliers_used]
        )
    return out.getvalue()


def metric_value(result: AllocationResult, metric: str) -> float:
    """One number of a result: coverage_score, total_spend, coverage:<mineral>, spend:<mineral>, quantity:<offer>."""
    what, _, of = metric.partition(":")
    value: float | None
    if metric == "coverage_score":
        value = result.coverage_score
    elif metric == "total_spend":
        value = result.total_spend
    elif what in ("coverage", "spend") and of:
        found = [m for m in result.minerals if m.id == of]
        if not found:
            raise InvalidRequest([Problem(path="query.metric", message=f"no mineral '{of[:100]}'", code="metric")])
        value = found[0].coverage if what == "coverage" else found[0].spend
    elif what == "quantity" and of:
        value = sum(line.quantity for line in result.allocations if line.supplier_id == of)
    else:
        message = "one of coverage_score, total_spend, coverage:<mineral>, spend:<mineral>, quantity:<supplier_id>"
        raise InvalidRequest([Problem(path="query.metric", message=message, code="metric")])
    if value is None:
        message = f"the result has no {metric} (status {result.status.value})"
        raise InvalidRequest([Problem(path="query.metric", message=message, code="no_value")])
    return value


class ResultCache:
    """Answers by key, least recently used dropped beyond ``size``; one solve per key at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Any, asyncio.Future[AllocationResult]] = OrderedDict()
        self.solves = 0

    async def get(self, key: Any, solve) -> AllocationResult:
        future = self._entries.get(key)
        if future is not None:
            self._entries.move_to_end(key)
        else:
            future = asyncio.ensure_future(solve())
            self.solves += 1
            self._entries[key] = future
            future.add_done_callback(lambda f: self._forget_failure(key, f))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return await asyncio.shield(future)

    def _forget_failure(self, key: Any, future: asyncio.Future[AllocationResult]) -> None:
        if (future.cancelled() or future.exception() is not None) and self._entries.get(key) is future:
            del self._entries[key]


class ScenarioService:
    def __init__(self, db: Database, gateway: SolveGateway, jobs: JobService, cache_size: int) -> None:
        self.db = db
        self.gateway = gateway
        self.jobs = jobs
        self.cache = ResultCache(cache_size)

    async def put(
        self, name: str, body: ScenarioIn, if_match: str | None, if_none_match: str | None
    ) -> tuple[ScenarioView, bool]:
        check_name(name)
        document = json.dumps(
            {
                "request": body.request.model_dump(mode="json", exclude_unset=True),
                "variants": [v.model_dump(mode="json", exclude_unset=True) for v in body.variants],
                "description": body.description,
            }
        )
        current = await self.db.run(S.current_version, name)
        expected = expected_version(if_match, if_none_match, current)
        try:
            version = await self.db.run(S.save, name, document, expected, time.time())
        except S.Stale as stale:
            raise PreconditionFailed(
                "The scenario changed since the version you named; read it again and apply your change to it.",
                etag(stale.current) if stale.current else None,
            ) from None
        return await self.get(name, version), version == 1

    async def read(self, name: str, version: int | None = None) -> dict[str, Any]:
        row = await self.db.run(S.read, name, version)
        if row is None:
            what = f"No scenario named '{name[:100]}'" if version is None else f"No version {version} of '{name[:100]}'"
            raise NotFound(what + "; see GET /v1/scenarios.")
        return row

    async def get(self, name: str, version: int | None = None) -> ScenarioView:
        row = await self.read(name, version)
        doc = json.loads(row["document"])
        return ScenarioView(
            name=name,
            version=row["version"],
            latest_version=row["latest_version"],
            description=doc["description"],
            request=doc["request"],
            variants=doc["variants"],
            created_at=_time(row["created_at"]),
            updated_at=_time(row["updated_at"]),
            version_created_at=_time(row["version_created_at"]),
        )

    async def list(self) -> list[ScenarioSummary]:
        rows = await self.db.run(S.listing)
        return [
            ScenarioSummary(
                name=r["name"],
                version=r["version"],
                created_at=_time(r["created_at"]),
                updated_at=_time(r["updated_at"]),
            )
            for r in rows
        ]

    async def delete(self, name: str, if_match: str | None) -> None:
        current = await self.db.run(S.current_version, name)
        if current == 0:
            raise NotFound(f"No scenario named '{name[:100]}'; see GET /v1/scenarios.")
        expected = expected_version(if_match, None, current)
        try:
            await self.db.run(S.remove, name, expected)
        except S.Stale as stale:
            raise PreconditionFailed("The scenario changed since the version you named.", etag(stale.current)) from None

    async def run(self, name: str, action: str, body: dict[str, Any], idempotency_key: str | None) -> JobView:
        """Submit the action's job on the scenario's current version."""
        row = await self.read(name)
        kind_name = SCENARIO_ACTIONS[action]
        kind = KINDS.get(kind_name)
        if kind is None:
            raise NotAvailable(
                f"POST /v1/scenarios/{{name}}/{action} runs jobs of kind '{kind_name}', "
                "which this server does not run yet."
            )
        body = dict(body)
        webhook_url = body.pop("webhook_url", None)
        raw = kind.input_from_scenario(json.loads(row["document"]), body)
        job, _ = await self.jobs.submit(kind.name, raw, webhook_url, idempotency_key, (name, row["version"]))
        return job

    # -- tokens ---------------------------------------------------------------------

    async def new_token(self, name: str) -> TokenView:
        await self.read(name)
        token_id, token, now = uuid.uuid4().hex, TOKEN_PREFIX + secrets.token_urlsafe(32), time.time()
        await self.db.run(S.add_token, name, token_id, token, now)
        return TokenView(id=token_id, scenario=name, created_at=_time(now), token=token)

    async def tokens(self, name: str) -> list[TokenView]:
        await self.read(name)
        rows = await self.db.run(S.tokens, name)
        return [
            TokenView(id=r["id"], scenario=name, created_at=_time(r["created_at"]), revoked_at=_time(r["revoked_at"]))
            for r in rows
        ]

    async def revoke(self, name: str, token_id: str) -> None:
        if not await self.db.run(S.revoke, name, token_id, time.time()):
            raise NotFound(f"No token '{token_id[:64]}' for scenario '{name[:100]}'.")

    async def check_token(self, name: str, token: str) -> None:
        if not await self.db.run(S.token_valid, name, token):
            raise Unauthorized("The token is not valid for this scenario (unknown, revoked, or for another scenario).")

    # -- spreadsheet calls ---------------------------------------------------------

    async def solve(self, name: str, params: Iterable[tuple[str, str]]) -> AllocationResult:
        """The current version solved with the overrides, from the cache when asked before."""
        row = await self.read(name)
        params = sorted((k, v) for k, v in params if k not in ("token", "metric"))
        document = json.loads(row["document"])
        base = AllocationRequest.model_validate(document["request"])
        request = apply_overrides(base, params, document.get("variants") or [])
        key = (name, row["created_at"], row["version"], tuple(params))  # (created_at: a deleted and re-made one)
        return await self.cache.get(key, lambda: self.gateway.solve(request))

    async def value(self, name: str, metric: str, params: Iterable[tuple[str, str]]) -> float:
        return metric_value(await self.solve(name, params), metric)

    async def allocation_csv(self, name: str, params: Iterable[tuple[str, str]]) -> tuple[str, AllocationResult]:
        result = await self.solve(name, params)
        return allocation_csv(result), result

    async def summary_csv(self, name: str, params: Iterable[tuple[str, str]]) -> tuple[str, AllocationResult]:
        result = await self.solve(name, params)
        return summary_csv(result), result
