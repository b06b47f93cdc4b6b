"""Settings, read from ``TASKSCHED_*`` environment variables (and CLI options of the same names).

This class is the one place each setting is defined: its type, default, limits and description.
The CLI builds its options from it (``cli/options.py``: help text, variable, default shown) and the
README's configuration table is generated from it (a test keeps the two equal).

Nothing is built at import time: call ``Settings()`` where settings are needed, or pass one in.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Literal

from pydantic import Field, JsonValue, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "TASKSCHED_"


def _default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _shown(text: str) -> dict[str, JsonValue]:
    """How a default that is not a plain value (computed, or none) is shown in help and docs."""
    return {"shown_default": text}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///tasksched.db",
        description="`sqlite:///path/file.db` or `postgresql://user@host:port/db`.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the HTTP server listens on.")
    bootstrap_key: str | None = Field(
        default=None,
        description="The first admin API key, created when the database has none (else one is generated and printed).",
        json_schema_extra=_shown("generated"),
    )
    cors_origins: str = Field(default="", description="Comma-separated origins allowed by CORS.")
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or CIDRs of proxies whose `X-Forwarded-For` names the client (rate limits, audit).",
    )
    redis_url: str | None = Field(
        default=None,
        description="`redis://host:port/db`: shared rate-limit counters and events across processes (optional; the database stays the source of truth).",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )

    worker_concurrency: int = Field(
        default=100, ge=1, le=10_000, description="Runs one worker executes at once."
    )
    worker_queues: str = Field(
        default="default", description="Comma-separated queues a worker takes runs from; `*` for all."
    )
    worker_name: str = Field(
        default_factory=_default_worker_name,
        description="The name recorded on runs and on notice deliveries.",
        json_schema_extra=_shown("host:pid"),
    )
    lease_seconds: float = Field(
        default=30,
        gt=1,
        le=3600,
        description="How long a claim lasts without a heartbeat; then the attempt fails and is retried under its policy.",
    )
    drain_seconds: float = Field(
        default=30, ge=0, le=3600, description="On SIGTERM, how long running work gets before it is released."
    )
    output_limit_bytes: int = Field(
        default=64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Output kept per run (the tail)."
    )

    enable_shell: bool = Field(
        default=False, description="Allow `shell` actions (argv lists, never a shell string)."
    )
    http_allow_private: bool = Field(
        default=False,
        description="Let `http` actions reach loopback, private, link-local and metadata addresses.",
    )
    imports: str = Field(
        default="",
        description="Comma-separated modules whose `@task` functions to register (API and workers).",
    )

    public_url: str = Field(
        default="",
        description="The address users open the web UI at (`https://tasks.example.com`): notices link to task and run pages under it.",
    )
    notifier: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Run the notifier (delivers notices) in this process: `auto` where a scheduler runs (`serve`, `scheduler`), `on`, or `off`.",
    )
    notify_lease_seconds: float = Field(
        default=60,
        ge=2,
        le=3600,
        description="How long a notifier holds a notice it is sending; a notice held longer (its notifier died) is sent again.",
    )
    notify_timeout_seconds: float = Field(
        default=15,
        gt=0,
        le=300,
        description="How long one delivery attempt may take (HTTP request or SMTP session).",
    )
    notify_max_attempts: int = Field(
        default=12,
        ge=1,
        le=100,
        description="Delivery attempts per notice before it is marked failed (backoff doubles from 5 s up to 1 h).",
    )

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info",
        description="`debug`, `info`, `warning` or `error` (libraries never log below `info`, and no level logs a secret).",
    )
    log_format: Literal["json", "console", "auto"] = Field(
        default="auto", description="`json` lines, `console`, or `auto` (console on a terminal)."
    )

    @field_validator("log_level", "log_format", "notifier", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        for item in (p.strip() for p in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or CIDR") from None
        return value

    @property
    def queue_list(self) -> list[str]:
        return [q.strip() for q in self.worker_queues.split(",") if q.strip()]

    @property
    def import_list(self) -> list[str]:
        return [m.strip() for m in self.imports.split(",") if m.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


def env_var(name: str) -> str:
    """The environment variable of a setting: ``database_url`` → ``TASKSCHED_DATABASE_URL``."""
    return ENV_PREFIX + name.upper()


def shown_default(name: str) -> str | None:
    """A setting's default as help and docs show it (None: no default worth showing)."""
    field = Settings.model_fields[name]
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    default = field.get_default(call_default_factory=False)
    if default is None or default == "":
        return None
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)
