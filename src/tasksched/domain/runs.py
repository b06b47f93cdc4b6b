"""Runs: one attempt of a task, its states, and when another attempt follows."""

from __future__ import annotations

import random
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, JsonValue

from tasksched.domain.base import StrictModel


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
TERMINAL_STATUSES = frozenset(set(RunStatus) - ACTIVE_STATUSES)

# Outcomes that the retry policy may answer with another attempt.
RETRYABLE_STATUSES = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT})


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"


class RetryPolicy(StrictModel):
    max_attempts: int = Field(default=3, ge=1, le=100, description="Attempts in all, the first included.")
    backoff_seconds: float = Field(default=10, ge=0, le=86_400)
    backoff_factor: float = Field(default=2, ge=1, le=100)
    max_backoff_seconds: float = Field(default=3600, ge=0, le=7 * 86_400)
    jitter: float = Field(
        default=0.2, ge=0, le=1, description="Each delay is spread randomly by up to this fraction."
    )


def retry_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait before the attempt after ``attempt`` (1-based), or None when none is left.

    Exponential: backoff * factor^(attempt-1), capped, then spread by ±jitter so that many tasks
    failing together do not retry in lockstep.
    """
    if attempt >= policy.max_attempts:
        return None
    base = min(policy.max_backoff_seconds, policy.backoff_seconds * policy.backoff_factor ** (attempt - 1))
    if policy.jitter and base:
        spread = (rng or random).uniform(-policy.jitter, policy.jitter)
        base = max(0.0, base * (1 + spread))
    return min(base, policy.max_backoff_seconds)


def next_attempt_delay(
    status: RunStatus,
    policy: RetryPolicy,
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the attempt after ``attempt``, which ended with ``status``; None: no more.

    Only failures and timeouts are retried, and never past ``max_attempts``. A function that asked
    for another attempt after ``retry_after`` seconds gets that delay instead of the backoff.
    """
    if status not in RETRYABLE_STATUSES:
        return None
    delay = retry_delay(policy, attempt, rng)
    if delay is None:
        return None
    return delay if retry_after is None else retry_after


class Run(BaseModel):
    """A run as the API shows it."""

    id: int
    task_id: int
    task_name: str
    trigger: RunTrigger
    scheduled_for: datetime
    attempt: int
    status: RunStatus
    reason: str | None = Field(default=None, description="Why a run was skipped or cancelled.")
    queue: str
    priority: int
    queued_at: datetime
    available_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    worker: str | None = None
    exit_code: int | None = None
    http_status: int | None = None
    output: str | None = None
    error: str | None = None
    cancel_requested: bool = False
    input: dict[str, JsonValue] | None = Field(
        default=None,
        description="What the run was asked to take on top of its task's action (`args`, `kwargs`, "
        "`body` or `env`), as given to run-now; its retries take the same. Null: the action as is.",
    )
    max_attempts: int | None = Field(
        default=None,
        description='Attempts in all that the task\'s retry policy allows now (for "attempt 2 of 3");'
        " the runs lists, one run, run now, a cancel and a retry's new attempts give it; null where"
        " the task is gone.",
    )


def clip(text: str | None, limit_bytes: int, *, keep: str = "tail") -> str | None:
    """``text`` cut to at most ``limit_bytes`` of UTF-8, note included: the last part of it
    (``keep="tail"``, for output) or the first (``"head"``, for an error, whose start names it)."""
    if text is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit_bytes:
        return text
    room = max(limit_bytes - 64, 0)  # the note fits in 64 bytes
    kept = data[-room:] if keep == "tail" else data[:room]
    body = kept.decode("utf-8", "ignore")  # a character cut in half is dropped
    dropped = len(data) - len(body.encode("utf-8", "surrogatepass"))
    if keep == "tail":
        return f"[… {dropped} earlier bytes dropped …]\n{body}"
    return f"{body}\n[… {dropped} more bytes dropped …]"
