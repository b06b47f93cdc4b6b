"""Notifications: channels that deliver notices, rules that say when a task's notice is due.

A *channel* is where notices go (a Slack-compatible webhook, an e-mail over SMTP, a generic JSON
webhook), attached to all tasks, to some tasks or to tags. A *rule* says when a task deserves a
notice (a final failure, N failures in a row, a recovery, a late start, a long run, no success for
hours). A *notice* is one message for one channel, kept in the outbox until it is delivered.

Channel secrets (the HMAC secret, the SMTP password, header values) are write-only, as task
secrets are: the API shows each as ``MASK``, and a channel sent back with ``MASK`` keeps its value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from tasksched.domain.actions import check_http_url
from tasksched.domain.base import JSONValue, RequiredTag, StrictModel
from tasksched.domain.secrets import MASK

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Enough of RFC 5321 to refuse typos; the server decides the rest.
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
_HOST = re.compile(r"^[A-Za-z0-9_.:\[\]-]{1,253}$")
# What a notice may wait for at most between two delivery attempts.
MAX_DAY_SECONDS = 7 * 86_400
# As a task's tags (domain/tasks.py imports this module, so it cannot be imported from there).
Tag = Annotated[str, Field(min_length=1, max_length=64)]


class NoticeKind(StrEnum):
    """Why a notice was written: the rule that fired."""

    FAILED = "failed"  # a run failed (or timed out) after its last retry
    CONSECUTIVE_FAILURES = "consecutive_failures"  # the task's Nth final failure in a row
    RECOVERED = "recovered"  # the first success after a failure notice
    LATE_START = "late_start"  # a slot that has not started N seconds after its time
    LONG_RUNNING = "long_running"  # a run still running after N seconds
    NO_SUCCESS = "no_success"  # no successful run for N hours
    TEST = "test"  # sent on request by POST /api/channels/{id}/test (never kept)


class NoticeStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) delivery attempt
    SENDING = "sending"  # claimed by a notifier, until its lease ends
    DELIVERED = "delivered"  # the channel accepted it
    FAILED = "failed"  # every attempt failed: given up


def _url(value: str) -> str:
    check_http_url(value)
    return value


def _headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        if any(ch in text for ch in "\r\n\x00"):
            raise ValueError(f"header {name!r}: the value must not contain line breaks or NUL")
    return value


class WebhookChannel(StrictModel):
    """A Slack-compatible incoming webhook: POST ``{"text": …}`` (and ``blocks`` when asked)."""

    type: Literal["webhook"] = "webhook"
    url: str = Field(max_length=4096, description="An absolute http:// or https:// URL.")
    blocks: bool = Field(default=False, description="Also send Slack Block Kit `blocks` with the text.")
    hmac_secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Sign each body (HMAC-SHA256, see docs/operations.md). Write-only: read back as `********`.",
    )

    _check_url = field_validator("url")(_url)


class JsonChannel(StrictModel):
    """A generic JSON webhook: POST the notice document (docs/operations.md) as it is."""

    type: Literal["json"] = "json"
    url: str = Field(max_length=4096, description="An absolute http:// or https:// URL.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=50,
        description="Extra request headers. Their values are write-only: read back as `********`.",
    )
    hmac_secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Sign each body (HMAC-SHA256, see docs/operations.md). Write-only: read back as `********`.",
    )

    _check_url = field_validator("url")(_url)
    _check_headers = field_validator("headers")(_headers)


class EmailChannel(StrictModel):
    """E-mail over SMTP."""

    type: Literal["email"] = "email"
    host: str = Field(min_length=1, max_length=253, description="The SMTP server's host name or address.")
    port: int = Field(default=587, ge=1, le=65_535)
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="`starttls` (upgrade a plain connection, usually port 587), `tls` (TLS from the "
        "first byte, usually 465) or `none` (plain text: loopback or a trusted relay only).",
    )
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password: str | None = Field(
        default=None, min_length=1, max_length=1024, description="Write-only: read back as `********`."
    )
    from_address: str = Field(min_length=3, max_length=320)
    to: list[str] = Field(min_length=1, max_length=50)

    @field_validator("host")
    @classmethod
    def _valid_host(cls, value: str) -> str:
        if not _HOST.match(value):
            raise ValueError("must be a host name or an IP address")
        return value

    @field_validator("from_address")
    @classmethod
    def _valid_from(cls, value: str) -> str:
        if not _ADDRESS.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("to")
    @classmethod
    def _valid_to(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _ADDRESS.match(address) or len(address) > 320:
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _password_needs_user(self) -> EmailChannel:
        if self.password is not None and self.username is None:
            raise ValueError("password: a password needs a username")
        return self


ChannelConfig = Annotated[
    WebhookChannel | JsonChannel | EmailChannel, Field(discriminator="type"), RequiredTag("type")
]


class ChannelScope(StrictModel):
    """Which tasks a channel hears about: all of them, or those listed by id or by tag."""

    all_tasks: bool = Field(default=False, description="Every task (then `task_ids` and `tags` are ignored).")
    task_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default_factory=list, max_length=1000)
    tags: list[Tag] = Field(default_factory=list, max_length=100)

    @field_validator("task_ids")
    @classmethod
    def _sorted_ids(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    @field_validator("tags")
    @classmethod
    def _sorted_tags(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    def covers(self, task_id: int, tags: list[str]) -> bool:
        return self.all_tasks or task_id in self.task_ids or bool(set(tags) & set(self.tags))


class ChannelSpec(StrictModel):
    """Everything an admin sets on a channel; the body of POST and PUT /api/channels."""

    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    config: ChannelConfig
    scope: ChannelScope = Field(default_factory=lambda: ChannelScope(all_tasks=True))
    kinds: list[NoticeKind] = Field(
        default_factory=list,
        description="Only these kinds of notice (empty: every kind the tasks' rules produce).",
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if value != value.strip() or any(ord(ch) < 32 for ch in value):
            raise ValueError("must not start or end with white space or contain control characters")
        return value

    @field_validator("kinds")
    @classmethod
    def _no_test_kind(cls, value: list[NoticeKind]) -> list[NoticeKind]:
        if NoticeKind.TEST in value:
            raise ValueError(
                "'test' notices are sent on request to one channel; it is not a kind to subscribe to"
            )
        return sorted(set(value))

    def wants(self, kind: NoticeKind) -> bool:
        return not self.kinds or kind in self.kinds


class Channel(ChannelSpec):
    """A stored channel as the API shows it: its secrets masked."""

    model_config = {"extra": "ignore", "frozen": True}

    id: int
    created_at: datetime
    updated_at: datetime


# -- secrets -----------------------------------------------------------------------------------


def _secret_fields(config: dict[str, Any]) -> list[str]:
    return {"webhook": ["hmac_secret"], "json": ["hmac_secret"], "email": ["password"]}.get(
        config.get("type", ""), []
    )


def map_channel_secrets(config: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """``config`` with ``change`` applied to every secret value (to seal, unseal or mask them)."""
    mapped = dict(config)
    for name in _secret_fields(config):
        if mapped.get(name) is not None:
            mapped[name] = change(mapped[name])
    if config.get("type") == "json" and config.get("headers"):
        mapped["headers"] = {name: change(value) for name, value in config["headers"].items()}
    return mapped


def mask_channel_config(config: dict[str, Any]) -> dict[str, Any]:
    """A channel's config JSON with every secret value replaced by ``MASK``."""
    return map_channel_secrets(config, lambda _value: MASK)


def restore_channel_secrets(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """``new`` (config JSON) with each ``MASK`` replaced by the value ``old`` holds in its place.

    Raises ValueError naming the field (``config.password: …``) when a ``MASK`` stands for nothing.
    """
    stored = old if old is not None and old.get("type") == new.get("type") else {}
    restored = dict(new)
    for name in _secret_fields(new):
        if restored.get(name) == MASK:
            if stored.get(name) is None:
                raise ValueError(f"config.{name}: {MASK!r} stands for a stored value, but there is none")
            restored[name] = stored[name]
    if new.get("type") == "json":
        headers = dict(new.get("headers") or {})
        old_headers = stored.get("headers") or {}
        for name, value in headers.items():
            if value == MASK:
                if name not in old_headers:
                    raise ValueError(
                        f"config.headers.{name}: {MASK!r} stands for a stored value, but there is none"
                    )
                headers[name] = old_headers[name]
        restored["headers"] = headers
    return restored


def channel_secret_values(config: dict[str, Any]) -> list[str]:
    """Every secret value of a config (to keep them out of recorded delivery errors)."""
    values = [config[name] for name in _secret_fields(config) if config.get(name)]
    if config.get("type") == "json":
        values += list((config.get("headers") or {}).values())
    return [str(v) for v in values]


# -- rules -------------------------------------------------------------------------------------


class NotifyRules(StrictModel):
    """When a task's notices are written. A task without its own rules uses the global defaults."""

    on_failure: bool = Field(default=True, description="A run failed or timed out after its last retry.")
    consecutive_failures: int | None = Field(
        default=None, ge=2, le=1000, description="Notify when this many final failures come in a row."
    )
    on_recovery: bool = Field(
        default=True,
        description="The first success after a failure notice (`failed` or `consecutive_failures`).",
    )
    late_start_seconds: float | None = Field(
        default=None,
        ge=1,
        le=MAX_DAY_SECONDS,
        description="A scheduled slot that has not started this long after its time (checked by the scheduler).",
    )
    long_running_seconds: float | None = Field(
        default=None, ge=1, le=MAX_DAY_SECONDS, description="A run still running this long after it started."
    )
    no_success_hours: float | None = Field(
        default=None, gt=0, le=24 * 365, description="No successful run for this many hours."
    )


class NotifyDefaults(StrictModel):
    """The global rules object: the rules of every task that has none of its own."""

    rules: NotifyRules = Field(default_factory=NotifyRules)


# -- notices -----------------------------------------------------------------------------------


class DeliveryAttempt(BaseModel):
    """One try at delivering a notice."""

    attempt: int
    started_at: datetime
    finished_at: datetime
    ok: bool
    error: str | None = None
    duration_ms: int
    worker: str = Field(description="The notifier that made the attempt (`host:pid`).")


class Notice(BaseModel):
    """A notice for one channel, as the outbox keeps it, and its delivery so far."""

    id: int
    kind: NoticeKind
    channel_id: int
    channel_name: str
    task_id: int | None
    task_name: str
    run_id: int | None
    status: NoticeStatus
    text: str
    created_at: datetime
    attempts: int = Field(description="Delivery attempts made so far.")
    next_attempt_at: datetime | None = Field(description="When a pending notice is tried next.")
    delivered_at: datetime | None
    last_error: str | None
    payload: dict[str, JSONValue] = Field(description="The JSON document a `json` channel receives.")
    history: list[DeliveryAttempt] = Field(default_factory=list, description="Each attempt, oldest first.")


class ChannelTestResult(BaseModel):
    """What ``POST /api/channels/{id}/test`` got from the channel."""

    ok: bool
    error: str | None = None
    duration_ms: int
