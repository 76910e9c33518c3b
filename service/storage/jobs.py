"""Job rows: submission, claims with a lease, renewal, completion, cancellation, retention.

Every change to a running job is conditional on the lease's owner (``lease_owner``): a runner
whose lease expired and was taken over cannot overwrite the new run's outcome, so a job's
result is written once.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from service.storage.tables import jobs, webhook_attempts

FINISHED = ("succeeded", "failed", "cancelled")


def _row(row: Any) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


def insert_job(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    conn.execute(insert(jobs).values(**values))
    return get_job(conn, values["id"])  # type: ignore[return-value]


def get_job(conn: Connection, job_id: str) -> dict[str, Any] | None:
    return _row(conn.execute(select(jobs).where(jobs.c.id == job_id)).first())


def job_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    return _row(conn.execute(select(jobs).where(jobs.c.idempotency_key == key)).first())


def list_jobs(
    conn: Connection, status: str | None, kind: str | None, limit: int, before_seq: int | None
) -> list[dict[str, Any]]:
    """Newest first; ``before_seq`` continues a listing after its last row."""
    query = select(jobs).order_by(jobs.c.seq.desc()).limit(limit)
    if status is not None:
        query = query.where(jobs.c.status == status)
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    if before_seq is not None:
        query = query.where(jobs.c.seq < before_seq)
    return [dict(r._mapping) for r in conn.execute(query)]


def claim(
    conn: Connection, owner: str, now: float, lease_s: float, max_attempts: int, skip_locked: bool
) -> dict[str, Any] | None:
    """Take the oldest queued job, or a running one whose lease expired, for ``owner``.

    A job whose expired lease already had ``max_attempts`` runs is failed instead (its
    runners died each time). PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so replicas claiming at
    once take different jobs; SQLite: the transaction holds the one write lock. The update is
    also conditional on what was read, so a claim never takes a job another runner holds.
    """
    claimable = or_(jobs.c.status == "queued", and_(jobs.c.status == "running", jobs.c.lease_expires_at < now))
    query = select(jobs).where(claimable).order_by(jobs.c.seq).limit(1)
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    while True:
        row = _row(conn.execute(query).first())
        if row is None:
            return None
        guard = and_(jobs.c.id == row["id"], jobs.c.status == row["status"], jobs.c.attempts == row["attempts"])
        if row["status"] == "running" and row["attempts"] >= max_attempts:
            error = json.dumps(
                {
                    "error": "job_abandoned",
                    "detail": f"The job was started {row['attempts']} times and its runner stopped each time "
                    "(a server killed or restarted mid-job).",
                }
            )
            conn.execute(
                update(jobs)
                .where(guard)
                .values(status="failed", error=error, finished_at=now, lease_owner=None, lease_expires_at=None)
            )
            continue
        done = conn.execute(
            update(jobs)
            .where(guard)
            .values(
                status="running",
                lease_owner=owner,
                lease_expires_at=now + lease_s,
                attempts=row["attempts"] + 1,
                started_at=now,
                progress=0.0,
            )
        )
        if done.rowcount == 1:
            return get_job(conn, row["id"])
        return None  # taken meanwhile: try again later


def renew(conn: Connection, job_id: str, owner: str, until: float) -> tuple[bool, bool]:
    """Extend the lease; (still ours, cancellation requested)."""
    done = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.status == "running")
        .values(lease_expires_at=until)
    )
    if done.rowcount != 1:
        return False, False
    cancel = conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar_one()
    return True, bool(cancel)


def cancel_requested(conn: Connection, job_id: str) -> bool:
    return bool(conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar())


def set_progress(conn: Connection, job_id: str, owner: str, progress: float) -> None:
    conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.lease_owner == owner).values(progress=min(1.0, progress))
    )


def finish(
    conn: Connection,
    job_id: str,
    owner: str,
    status: str,
    now: float,
    result: str | None = None,
    error: str | None = None,
    webhook: bool = False,
) -> bool:
    """Record a run's outcome, if ``owner`` still holds the job; False: it does not (dropped)."""
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "result": result,
        "error": error,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if status == "succeeded":
        values["progress"] = 1.0
    if webhook:
        values["webhook_status"] = "pending"
    done = conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.status == "running").values(values)
    )
    return done.rowcount == 1


def requeue(conn: Connection, job_id: str, owner: str, uncount: bool) -> bool:
    """Give a running job back to the queue (a failure worth retrying, or a server stopping)."""
    values: dict[str, Any] = {"status": "queued", "lease_owner": None, "lease_expires_at": None}
    if uncount:  # the run was stopped by its own server, not failed: it does not count
        values["attempts"] = jobs.c.attempts - 1
    done = conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.status == "running").values(values)
    )
    return done.rowcount == 1


def request_cancel(conn: Connection, job_id: str, now: float, webhook: bool) -> dict[str, Any] | None:
    """A queued job is cancelled at once; a running one is flagged for its runner to stop."""
    extra = {"webhook_status": "pending"} if webhook else {}
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == "queued")
        .values(status="cancelled", finished_at=now, cancel_requested=True, **extra)
    )
    conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(cancel_requested=True))
    return get_job(conn, job_id)


def record_webhook_attempt(
    conn: Connection, job_id: str, attempt: int, now: float, status_code: int | None, error: str | None
) -> None:
    conn.execute(
        insert(webhook_attempts).values(job_id=job_id, attempt=attempt, at=now, status_code=status_code, error=error)
    )


def set_webhook_status(conn: Connection, job_id: str, status: str) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(webhook_status=status))


def webhook_history(conn: Connection, job_id: str) -> list[dict[str, Any]]:
    query = select(webhook_attempts).where(webhook_attempts.c.job_id == job_id).order_by(webhook_attempts.c.attempt)
    return [dict(r._mapping) for r in conn.execute(query)]


def pending_webhooks(conn: Connection) -> list[dict[str, Any]]:
    query = select(jobs).where(jobs.c.webhook_status == "pending", jobs.c.status.in_(FINISHED))
    return [dict(r._mapping) for r in conn.execute(query)]


def purge(conn: Connection, finished_before: float) -> int:
    """Delete jobs finished before the given time (with their webhook history); how many."""
    old = select(jobs.c.id).where(jobs.c.status.in_(FINISHED), jobs.c.finished_at < finished_before)
    conn.execute(delete(webhook_attempts).where(webhook_attempts.c.job_id.in_(old)))
    return conn.execute(delete(jobs).where(jobs.c.status.in_(FINISHED), jobs.c.finished_at < finished_before)).rowcount
