"""Every setting of the service, read once from the environment (prefix STOCKPILE_)."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _cpu_count(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its CPU set, capped by a cgroup CPU quota (docker --cpus)."""
    try:
        cpus = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return cpus if quota is None else max(1, min(cpus, math.ceil(quota)))


def cpu_quota(cgroup: Path) -> float | None:
    """CPUs' worth of time the cgroup may use (cgroup v2 cpu.max, or v1 cfs files); None: no quota."""
    try:
        text = (cgroup / "cpu.max").read_text().split()
        if len(text) == 2 and text[0] != "max":
            return int(text[0]) / int(text[1])
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


class Settings(BaseSettings):
    """Validated at start-up: a bad value stops the server with a clear message."""

    model_config = SettingsConfigDict(env_prefix="STOCKPILE_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    workers: int = Field(
        default_factory=_cpu_count, ge=1, le=64, description="Solver worker processes (= concurrent solves)."
    )
    default_time_limit_s: float = Field(default=30.0, gt=0, description="Time limit when a request gives none.")
    max_time_limit_s: float = Field(default=120.0, gt=0, description="Requests asking for more are clamped to this.")
    max_body_bytes: int = Field(default=20_000_000, gt=0, description="Larger request bodies get 413.")
    solve_grace_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="A solve still running this long after its time limit is killed; more than 1 s (see below).",
    )
    queue_length: int = Field(
        default=16, ge=0, le=10_000, description="Requests that may wait for a free worker; more get 503."
    )
    queue_max_wait_s: float = Field(
        default=10.0, gt=0, le=3600, description="Longest wait for a free worker before 503."
    )
    worker_memory_mb: int = Field(
        default=4096, ge=0, description="Address-space cap per worker process (RLIMIT_AS), MiB; 0 = none."
    )
    drain_timeout_s: float = Field(
        default=20.0, ge=0, le=3600, description="On SIGTERM, how long queued and running solves may finish."
    )
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(), description="Comma-separated API keys; when set, every endpoint but health needs one."
    )
    max_upload_bytes: int = Field(
        default=10_000_000, gt=0, description="Largest uploaded workbook or CSV file (all files of a form); 413 beyond."
    )
    max_unzipped_bytes: int = Field(
        default=50_000_000, gt=0, description="Largest decompressed size of an uploaded XLSX; 413 beyond."
    )
    max_zip_entries: int = Field(default=200, ge=1, description="Most parts (zip entries) in an uploaded XLSX.")
    max_sheet_rows: int = Field(
        default=50_001, ge=2, description="Most rows read from one uploaded sheet or CSV file (header included)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Analyses (comparisons, frontiers, policy costs, stress tests) fan out on Dask.
    dask_scheduler: str | None = Field(
        default=None,
        description="A Dask scheduler's address (tcp://host:8786); unset: a local cluster started at first use.",
    )
    dask_workers: int = Field(
        default_factory=_cpu_count,
        ge=0,
        le=64,
        description="Single-threaded worker processes of the local Dask cluster; 0: analyses run in the web "
        "process on a thread (tests and embedding only).",
    )
    max_variants: int = Field(default=50, ge=1, le=1_000, description="Most variants in one comparison.")
    max_analysis_time_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="An analysis's solves not started this long after its request arrived are not started.",
    )
    max_analyses: int = Field(
        default=8, ge=1, le=1_000, description="Analyses that may run or wait at once; more get 503."
    )

    # -- jobs and saved scenarios (service.storage, service.jobs, service.scenarios) --
    data_dir: Path = Field(default=Path("data"), description="Where the default SQLite database lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database (sqlite:///..., postgresql+psycopg://...); "
        "default: a SQLite file stockpile.db in data_dir.",
    )
    job_lease_s: float = Field(
        default=30.0, ge=1, le=3600, description="A running job not renewed for this long is run again."
    )
    job_poll_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often idle job runners look for work, and running jobs for their cancellation.",
    )
    job_concurrency: int | None = Field(
        default=None, ge=0, le=64, description="Jobs this process runs at once; default: workers; 0 runs none."
    )
    job_max_attempts: int = Field(default=3, ge=1, le=100, description="Runs of a job before it is failed.")
    job_retention_days: float = Field(default=30.0, gt=0, description="Finished jobs are deleted after this.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Key of the HMAC-SHA256 signature of webhooks; jobs with a webhook need it."
    )
    webhook_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Comma-separated hosts webhooks may be sent to; empty: any host."
    )
    webhook_max_attempts: int = Field(default=6, ge=1, le=50, description="Deliveries tried per webhook.")
    webhook_backoff_s: float = Field(
        default=1.0, gt=0, le=600, description="Wait before the second delivery; doubles after each failure."
    )
    webhook_max_backoff_s: float = Field(default=300.0, gt=0, description="Longest wait between two deliveries.")
    value_cache_size: int = Field(
        default=1024, ge=0, le=1_000_000, description="Results kept for spreadsheet cells' value and CSV calls."
    )
    # Stress tests and robust allocations (service/stress_routes.py)
    stress_max_draws: int = Field(
        default=100_000, ge=1, le=100_000, description="Most draws a stress test may ask for; more get 422."
    )
    stress_time_limit_s: float = Field(
        default=300.0, gt=0, le=86_400, description="A stress test answers with the draws done by then."
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(h.strip().lower() for h in value.split(",") if h.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError("give a sqlite:///... or postgresql+psycopg://... URL")
        return value

    def database(self) -> str:
        """The database URL: the one given, or a SQLite file in data_dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'stockpile.db').resolve()}"

    def job_runners(self) -> int:
        return self.workers if self.job_concurrency is None else self.job_concurrency

    @model_validator(mode="after")
    def _limits_agree(self) -> Settings:
        if self.default_time_limit_s > self.max_time_limit_s:
            raise ValueError("default_time_limit_s must not exceed max_time_limit_s")
        return self

    # -- the grace periods past a solve's time limit, in the order they must come --
    @field_validator("solve_grace_s")
    @classmethod
    def _graces_in_order(cls, grace: float) -> float:
        """Past its time limit a solve is given up by the engine's overrun watchdog first (which then
        answers itself), then stopped by the pool with its last provisional answer, and killed at the
        hard deadline only after both: ``OVERRUN_S < OVERTIME_AFTER_S < solve_grace_s``."""
        from service.pool import OVERTIME_AFTER_S
        from solvers import OVERRUN_S

        if not OVERRUN_S < OVERTIME_AFTER_S:
            raise ValueError(
                f"the engine's overrun watchdog grace (solvers.OVERRUN_S, {OVERRUN_S:g} s) must be shorter than "
                f"the pool's overtime (service.pool.OVERTIME_AFTER_S, {OVERTIME_AFTER_S:g} s)"
            )
        if not grace > OVERTIME_AFTER_S:
            raise ValueError(
                f"must be longer than the pool's overtime ({OVERTIME_AFTER_S:g} s), itself longer than the "
                f"engine's overrun watchdog grace ({OVERRUN_S:g} s): a solve past its time limit is given up "
                "by the engine, then stopped with its last provisional answer, and killed at the hard deadline "
                f"only after both (given: {grace:g} s)"
            )
        return grace


@lru_cache
def get_settings() -> Settings:
    return Settings()
