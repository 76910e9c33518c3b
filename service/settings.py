"""Every setting of the service, read once from the environment (prefix STOCKPILE_)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Validated at start-up: a bad value stops the server with a clear message."""

    model_config = SettingsConfigDict(env_prefix="STOCKPILE_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    workers: int = Field(default=1, ge=1, le=64, description="Concurrent solves.")
    default_time_limit_s: float = Field(default=30.0, gt=0, description="Time limit when a request gives none.")
    max_time_limit_s: float = Field(default=120.0, gt=0, description="Requests asking for more are clamped to this.")
    max_body_bytes: int = Field(default=20_000_000, gt=0, description="Larger request bodies get 413.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _limits_agree(self) -> Settings:
        if self.default_time_limit_s > self.max_time_limit_s:
            raise ValueError("default_time_limit_s must not exceed max_time_limit_s")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
