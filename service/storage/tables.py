"""The database's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create them.

Times are Unix seconds (floats): the same on SQLite and PostgreSQL, and easy to compare
with a lease's expiry. JSON documents are stored as text, as the API sends them.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # order of submission (the list's cursor)
    Column("id", String(32), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("status", String(16), nullable=False),  # queued, running, succeeded, failed, cancelled
    Column("input", Text, nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=True, unique=True),
    Column("webhook_url", Text, nullable=True),
    Column("scenario", String(100), nullable=True),
    Column("scenario_version", Integer, nullable=True),
    Column("progress", Float, nullable=False, default=0.0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("lease_owner", String(32), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("webhook_status", String(16), nullable=True),  # pending, delivered, failed
    Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    Index("ix_jobs_finished", "finished_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
)

scenarios = Table(
    "scenarios",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

scenario_versions = Table(
    "scenario_versions",
    metadata,
    Column("name", String(100), ForeignKey("scenarios.name", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", Text, nullable=False),  # {"request", "variants", "description"}
    Column("created_at", Float, nullable=False),
)

scenario_tokens = Table(
    "scenario_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scenario", String(100), ForeignKey("scenarios.name", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)
