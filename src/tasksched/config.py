"""Settings, read from ``TASKSCHED_*`` environment variables (and CLI options of the same names).

Nothing is built at import time: call ``Settings()`` where settings are needed, or pass one in.
"""

from __future__ import annotations

import os
import socket

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKSCHED_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///tasksched.db",
        description="sqlite:///path/to/file.db or postgresql://user@host:port/dbname",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the HTTP server listens on.")
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_format: str = Field(default="auto", description="json, console, or auto (console on a terminal).")

    worker_concurrency: int = Field(
        default=100, ge=1, le=10_000, description="Runs one worker executes at once."
    )
    worker_queues: str = Field(
        default="default", description="Comma-separated queues this worker takes runs from; '*' for all."
    )
    worker_name: str = Field(default_factory=_default_worker_name, description="Name recorded on runs.")
    lease_seconds: float = Field(
        default=30, gt=1, le=3600, description="How long a claim lasts without a heartbeat."
    )
    drain_seconds: float = Field(
        default=30, ge=0, le=3600, description="Grace period for running work on SIGTERM."
    )
    output_limit_bytes: int = Field(
        default=64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Output tail kept per run."
    )

    enable_shell: bool = Field(
        default=False, description="Allow shell actions (argv lists, never a shell string)."
    )
    http_allow_private: bool = Field(
        default=False,
        description="Let HTTP actions reach loopback, private, link-local and metadata addresses.",
    )
    imports: str = Field(
        default="", description="Comma-separated modules whose @task functions the worker registers."
    )

    bootstrap_key: str | None = Field(
        default=None, description="The first admin API key, instead of a generated one."
    )
    cors_origins: str = Field(default="", description="Comma-separated origins allowed by CORS.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body accepted.")
    redis_url: str | None = Field(
        default=None, description="redis://… for shared rate limits and event fan-out."
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be debug, info, warning or error")
        return value

    @property
    def queue_list(self) -> list[str]:
        return [q.strip() for q in self.worker_queues.split(",") if q.strip()]

    @property
    def import_list(self) -> list[str]:
        return [m.strip() for m in self.imports.split(",") if m.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
