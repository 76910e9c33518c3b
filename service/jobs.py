"""Jobs: long work submitted now, run in the background, read later; kept in the database.

``JobService`` validates and stores submissions (the row is committed before the 202),
answers reads, cancels, and runs jobs: a background task claims queued jobs (or running
ones whose lease expired: their server died) from the database with a lease it renews,
runs each through its kind's function (``service.kinds``) and the solve gateway, and
records the outcome, conditional on still holding the lease. Several processes (replicas
on one PostgreSQL database) share the queue this way.

* A run that raises a 4xx error (the input cannot be solved as it is) fails the job at
  once; any other failure (worker crash, unexpected error) puts it back in the queue until
  ``job_max_attempts`` runs, then fails it with the last error. A job whose runner died
  ``job_max_attempts`` times is failed when its last lease expires.
* Cancelling a running job stops its solve (its worker is killed and replaced) within
  ``job_poll_s`` on another replica, at once on the replica running it.
* A server that stops gives its running jobs back to the queue (the run does not count).
* Finished jobs are deleted ``job_retention_days`` after they finish.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

import anyio.to_thread
from fastapi import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from models import problems_from_errors
from models.problems import Problem
from service import webhooks
from service.errors import (
    ClientGone,
    Conflict,
    ErrorBody,
    InvalidRequest,
    NotFound,
    StockpileError,
)
from service.kinds import KINDS, JobContext, Kind
from service.settings import Settings
from service.solving import SolveGateway, until_gone
from service.spreadsheet.csvio import wants_csv
from service.spreadsheet.result import XLSX_MEDIA_TYPE as XLSX
from service.storage import Database
from service.storage import jobs as J

log = logging.getLogger("stockpile.jobs")

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
PURGE_EVERY_S = 600.0


def _input_per_kind(schema: dict[str, Any]) -> None:
    """The description of a submission: ``kind`` one of the kinds, ``input`` that kind's input model.

    (``kind`` and ``input`` are read by ``validate_input``, which answers an unknown kind with its own
    422; the schema states the same: the kinds registered when this module was imported.)
    """
    refs = schema["properties"]["input"].pop("anyOf", None) or [schema["properties"]["input"].pop("$ref")]
    schema["properties"]["input"]["type"] = "object"
    schema["properties"]["kind"]["enum"] = list(KINDS)
    schema["allOf"] = [
        {"if": {"properties": {"kind": {"const": name}}}, "then": {"properties": {"input": ref}}}
        for name, ref in zip(KINDS, refs, strict=True)
    ]


# Each kind's input model, for the schema of ``input`` (one entry per kind, in KINDS' order).
_KIND_INPUTS: Any = Union[tuple(kind.input for kind in KINDS.values())]  # noqa: UP007 (built at run time)
# ``webhook_url`` must be an http(s) URL with a host (and the server must allow it: ``webhooks.url_problem``).
WEBHOOK_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\s:\[\]]+"


class JobSubmission(BaseModel):
    model_config = ConfigDict(json_schema_extra=_input_per_kind)

    kind: str = Field(max_length=40, description="What to run: allocation, and each analysis the server runs.")
    input: Annotated[dict[str, Any], BeforeValidator(lambda v: v, json_schema_input_type=_KIND_INPUTS)] = Field(
        description="The body the matching synchronous endpoint takes."
    )
    webhook_url: str | None = Field(
        default=None, max_length=2000, pattern=WEBHOOK_URL, description="POSTed the job when it finishes."
    )


class JobView(BaseModel):
    """A job's status document (also the webhook's body)."""

    id: str
    kind: str
    status: Status
    progress: float = Field(description="0..1: how far the run got.")
    attempts: int = Field(description="Runs started (a run cut short by a dead server is run again).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: ErrorBody | None = Field(description="Why it failed, in the shape of every error response.")
    result_url: str | None = Field(description="Where the result is, once it succeeded.")
    scenario: str | None = Field(default=None, description="The saved scenario it ran on, if any ...")
    scenario_version: int | None = Field(default=None, description="... and which version of it.")
    webhook_url: str | None = None
    webhook_status: Literal["pending", "delivered", "failed"] | None = None


class JobList(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null: no more.")


class WebhookAttempt(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def view(row: dict[str, Any]) -> JobView:
    return JobView(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        progress=row["progress"],
        attempts=row["attempts"],
        created_at=_time(row["created_at"]),
        started_at=_time(row["started_at"]),
        finished_at=_time(row["finished_at"]),
        error=None if row["error"] is None else ErrorBody.model_validate_json(row["error"]),
        result_url=f"/v1/jobs/{row['id']}/result" if row["status"] == "succeeded" else None,
        scenario=row["scenario"],
        scenario_version=row["scenario_version"],
        webhook_url=row["webhook_url"],
        webhook_status=row["webhook_status"],
    )


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        seq = int(value)
        if kind != "seq" or not 0 < seq < 2**62:
            raise ValueError
        return seq
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest([Problem(path="cursor", message="not a cursor this API gave", code="cursor_invalid")])


def validate_input(kind_name: str, raw: dict[str, Any]) -> tuple[Kind, BaseModel]:
    """The kind and its validated input; 422 with every problem (paths under ``input``) otherwise."""
    kind = KINDS.get(kind_name)
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise InvalidRequest([Problem(path="kind", message=f"unknown kind; this server runs: {known}", code="kind")])
    try:
        return kind, kind.input.model_validate(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("input", *e["loc"])} for e in exc.errors(include_url=False)]
        raise InvalidRequest(problems_from_errors(errors)) from None


def _fingerprint(kind: str, raw: dict[str, Any], webhook_url: str | None, scenario: Any) -> str:
    text = json.dumps([kind, raw, webhook_url, scenario], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def error_json(exc: BaseException) -> str:
    if isinstance(exc, StockpileError):
        return json.dumps(exc.body())
    return json.dumps({"error": "internal_error", "detail": f"The run failed unexpectedly ({type(exc).__name__})."})


class JobService:
    def __init__(self, db: Database, gateway: SolveGateway, settings: Settings, analyses: Any = None) -> None:
        self.db = db
        self.gateway = gateway
        self.analyses = analyses  # service.analyses.AnalysisRunner, for the analysis kinds
        self.settings = settings
        self.owner = uuid.uuid4().hex
        self._running: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._last_purge = 0.0

    # -- submission and reads --------------------------------------------------------

    async def submit(
        self,
        kind_name: str,
        raw: dict[str, Any],
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        scenario: tuple[str, int] | None = None,
    ) -> tuple[JobView, bool]:
        """Store a new job (or, for a known Idempotency-Key and the same body, return its job); (job, new?)."""
        kind, model = await anyio.to_thread.run_sync(validate_input, kind_name, raw)
        if webhook_url is not None and (problem := webhooks.url_problem(webhook_url, self.settings)) is not None:
            raise InvalidRequest([Problem(path="webhook_url", message=problem, code="webhook_url")])
        fingerprint = _fingerprint(kind.name, raw, webhook_url, scenario)
        row = {
            "id": uuid.uuid4().hex,
            "kind": kind.name,
            "status": "queued",
            "input": model.model_dump_json(exclude_unset=True),
            "input_hash": fingerprint,
            "idempotency_key": idempotency_key,
            "webhook_url": webhook_url,
            "scenario": scenario[0] if scenario else None,
            "scenario_version": scenario[1] if scenario else None,
            "progress": 0.0,
            "attempts": 0,
            "cancel_requested": False,
            "created_at": time.time(),
        }
        stored, new = await self.db.run(_insert_once, row)
        if stored["input_hash"] != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used for another request; use a new key for a new job.",
                code="idempotency_key_reused",
            )
        if new:
            self._wake.set()
        return view(stored), new

    async def get(self, job_id: str) -> dict[str, Any]:
        row = await self.db.run(J.get_job, job_id)
        if row is None:
            raise NotFound(
                f"No job with id '{job_id[:64]}' (finished jobs are kept {self.settings.job_retention_days:g} days)."
            )
        return row

    async def list(self, status: str | None, kind: str | None, limit: int, cursor: str | None) -> JobList:
        before = decode_cursor(cursor) if cursor else None
        rows = await self.db.run(J.list_jobs, status, kind, limit + 1, before)
        more = len(rows) > limit
        rows = rows[:limit]
        return JobList(jobs=[view(r) for r in rows], next_cursor=encode_cursor(rows[-1]["seq"]) if more else None)

    async def webhook_attempts(self, job_id: str) -> list[WebhookAttempt]:
        await self.get(job_id)
        rows = await self.db.run(J.webhook_history, job_id)
        return [
            WebhookAttempt(attempt=r["attempt"], at=_time(r["at"]), status_code=r["status_code"], error=r["error"])
            for r in rows
        ]

    async def cancel(self, job_id: str) -> JobView:
        """Cancel a queued job, or stop a running one (here at once; on another replica within the poll)."""
        row = await self.get(job_id)
        if row["status"] in J.FINISHED:
            return view(row)
        row = await self.db.run(J.request_cancel, job_id, time.time(), row["webhook_url"] is not None)
        local = self._running.get(job_id)
        if local is not None:
            task, stop = local
            stop.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout=2.0)
            row = await self.get(job_id)
        elif row["status"] == "cancelled" and row["webhook_url"]:
            self._send_webhook(row)
        return view(row)

    # -- running -------------------------------------------------------------------

    async def start(self) -> None:
        if self.settings.job_runners() > 0:
            self._loop_task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop claiming; running jobs are stopped and given back to the queue."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        tasks = [task for task, _ in self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _loop(self) -> None:
        resumed = False
        while not self._stopping:
            self._wake.clear()
            try:
                if not resumed:  # webhooks a stopped server left undelivered
                    for row in await self.db.run(J.pending_webhooks):
                        self._send_webhook(row)
                    resumed = True
                await self._claim_what_fits()
                await self._purge()
            except Exception:  # the database away for a moment: try again at the next poll
                log.exception("job runner: claiming failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.job_poll_s)

    async def _claim_what_fits(self) -> None:
        while len(self._running) < self.settings.job_runners() and self.gateway.ready() and not self._stopping:
            s = self.settings
            row = await self.db.run(
                J.claim, self.owner, time.time(), s.job_lease_s, s.job_max_attempts, self.db.postgres
            )
            if row is None:
                return
            stop = asyncio.Event()
            task = asyncio.create_task(self._execute(row, stop))
            self._running[row["id"]] = (task, stop)
            task.add_done_callback(lambda _, job_id=row["id"]: self._done(job_id))

    def _done(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _purge(self) -> None:
        now = time.time()
        if now - self._last_purge >= PURGE_EVERY_S:
            self._last_purge = now
            await self.db.run(J.purge, now - self.settings.job_retention_days * 86400)

    async def _execute(self, row: dict[str, Any], stop: asyncio.Event) -> None:
        job_id, owner = row["id"], self.owner
        progress = {"value": 0.0}
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(job_id, stop, lost, progress))
        outcome: tuple[str, str | None, str | None] | None = None  # status, result, error
        try:
            kind = KINDS.get(row["kind"])
            if kind is None:
                detail = f"This server does not run jobs of kind '{row['kind']}'."
                outcome = ("failed", None, json.dumps({"error": "not_available", "detail": detail}))
            else:
                model = await anyio.to_thread.run_sync(kind.input.model_validate_json, row["input"])
                ctx = JobContext(self.gateway, lambda p: progress.__setitem__("value", float(p)), self.analyses)
                result = await until_gone(kind.run(model, ctx), stop.wait())
                outcome = ("succeeded", result.model_dump_json(), None)
        except ClientGone:  # cancelled, or the lease was lost
            outcome = None if lost.is_set() else ("cancelled", None, None)
        except asyncio.CancelledError:  # this server is stopping: back to the queue, the run not counted
            keeper.cancel()
            await asyncio.shield(self.db.run(J.requeue, job_id, owner, True))
            raise
        except Exception as exc:
            retry = not (isinstance(exc, StockpileError) and exc.status_code < 500)
            if not isinstance(exc, StockpileError):
                log.exception("job run failed", extra={"fields": {"job": job_id}})
            stopping = self._stopping or not self.gateway.ready()  # a draining server: the run does not count
            if retry and (stopping or row["attempts"] < self.settings.job_max_attempts):
                keeper.cancel()
                await self.db.run(J.requeue, job_id, owner, stopping)
                return
            outcome = ("failed", None, error_json(exc))
        finally:
            keeper.cancel()
        if outcome is None:
            return
        status, result, error = outcome
        webhook = row["webhook_url"] is not None
        if await self.db.run(J.finish, job_id, owner, status, time.time(), result, error, webhook) and webhook:
            self._send_webhook(await self.db.run(J.get_job, job_id))

    async def _keep_lease(self, job_id: str, stop: asyncio.Event, lost: asyncio.Event, progress: dict) -> None:
        """Renew the lease (every third of it); stop the run when it is cancelled (on any replica,
        seen within ``job_poll_s``) or its lease was lost."""
        s = self.settings
        renew_every = s.job_lease_s / 3
        renewed = time.monotonic()
        reported = 0.0
        while not stop.is_set():
            await asyncio.sleep(min(s.job_poll_s, renew_every))
            try:
                if progress["value"] != reported:
                    reported = progress["value"]
                    await self.db.run(J.set_progress, job_id, self.owner, reported)
                if time.monotonic() - renewed >= renew_every:
                    ours, cancel = await self.db.run(J.renew, job_id, self.owner, time.time() + s.job_lease_s)
                    renewed = time.monotonic()
                else:
                    ours, cancel = True, await self.db.run(J.cancel_requested, job_id)
            except Exception:
                log.exception("job runner: renewing a lease failed")
                continue
            if not ours:
                lost.set()
            if cancel or not ours:
                stop.set()

    def _send_webhook(self, row: dict[str, Any]) -> None:
        body = view(row).model_dump_json().encode()
        task = asyncio.create_task(webhooks.deliver(self.db, self.settings, row["id"], row["webhook_url"], body))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def result(self, job_id: str) -> tuple[dict[str, Any], Kind]:
        row = await self.get(job_id)
        if row["status"] != "succeeded":
            raise Conflict(
                f"The job is {row['status']}: it has no result"
                + (" yet." if row["status"] in ("queued", "running") else "."),
                code=f"job_{row['status']}",
            )
        kind = KINDS.get(row["kind"])
        if kind is None:
            raise NotFound(f"This server cannot read results of kind '{row['kind']}'.")
        return row, kind


def result_response(row: dict[str, Any], kind: Kind, accept: str | None) -> Response:
    """A succeeded job's result: XLSX or CSV when ``accept`` asks and the kind offers them, else its JSON."""
    if kind.xlsx is not None and XLSX in (accept or ""):
        model = kind.input.model_validate_json(row["input"])
        content = kind.xlsx(model, kind.result.model_validate_json(row["result"]))
        disposition = f'attachment; filename="{kind.name}-{row["id"]}.xlsx"'
        return Response(content, media_type=XLSX, headers={"Content-Disposition": disposition})
    if kind.csv is not None and wants_csv(accept):
        text = kind.csv(kind.result.model_validate_json(row["result"]))
        return Response(text, media_type="text/csv; charset=utf-8")
    return Response(row["result"], media_type="application/json")


def _insert_once(conn: Any, row: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Insert, unless the Idempotency-Key has a job: that job. (job row, inserted?)"""
    from sqlalchemy.exc import IntegrityError

    key = row["idempotency_key"]
    if key is not None and (existing := J.job_by_key(conn, key)) is not None:
        return existing, False
    try:
        with conn.begin_nested():
            return J.insert_job(conn, row), True
    except IntegrityError:  # the same key, inserted meanwhile by another request
        existing = J.job_by_key(conn, key) if key is not None else None
        if existing is None:
            raise
        return existing, False
