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
        default=5.0, gt=0, le=600, description="A solve still running this long after its time limit is killed."
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

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

    @model_validator(mode="after")
    def _limits_agree(self) -> Settings:
        if self.default_time_limit_s > self.max_time_limit_s:
            raise ValueError("default_time_limit_s must not exceed max_time_limit_s")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
