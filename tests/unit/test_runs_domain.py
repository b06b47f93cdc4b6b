"""Run states and retry delays: pure rules."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from tasksched.domain.runs import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    RetryPolicy,
    RunStatus,
    next_attempt_delay,
    retry_delay,
)
from tasksched.domain.tasks import TaskPatch, TaskSpec


def test_every_status_is_active_or_terminal() -> None:
    assert set(RunStatus) == ACTIVE_STATUSES | TERMINAL_STATUSES
    assert not ACTIVE_STATUSES & TERMINAL_STATUSES
    assert RetryPolicy().max_attempts == 3


@pytest.mark.parametrize("status", list(RunStatus))
def test_only_failures_and_timeouts_get_another_attempt(status: RunStatus) -> None:
    policy = RetryPolicy(max_attempts=2, backoff_seconds=10, jitter=0)
    retried = status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
    assert next_attempt_delay(status, policy, 1) == (10 if retried else None)
    assert next_attempt_delay(status, policy, 2) is None  # the last attempt, whatever happened


def test_a_requested_delay_replaces_the_backoff_but_not_the_attempt_limit() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_seconds=10, jitter=0)
    assert next_attempt_delay(RunStatus.FAILED, policy, 1, retry_after=42) == 42
    assert next_attempt_delay(RunStatus.FAILED, policy, 3, retry_after=42) is None
    assert next_attempt_delay(RunStatus.SUCCEEDED, policy, 1, retry_after=42) is None


def test_delays_grow_exponentially_and_are_capped() -> None:
    policy = RetryPolicy(
        max_attempts=6, backoff_seconds=10, backoff_factor=3, max_backoff_seconds=200, jitter=0
    )
    assert [retry_delay(policy, attempt) for attempt in range(1, 7)] == [10, 30, 90, 200, 200, None]


def test_no_delay_is_left_after_the_last_attempt() -> None:
    assert retry_delay(RetryPolicy(max_attempts=1), 1) is None


def test_jitter_spreads_delays_within_its_fraction_and_the_cap() -> None:
    policy = RetryPolicy(
        max_attempts=3, backoff_seconds=100, backoff_factor=2, max_backoff_seconds=150, jitter=0.2
    )
    rng = random.Random(7)
    first = [retry_delay(policy, 1, rng) for _ in range(500)]
    second = [retry_delay(policy, 2, rng) for _ in range(500)]
    assert all(d is not None and 80 <= d <= 120 for d in first)
    assert len({round(d or 0, 3) for d in first}) > 100  # really spread, not one value
    assert all(d is not None and 150 * 0.8 <= d <= 150 for d in second)  # 200 capped to 150, then spread


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_attempts", 0), ("backoff_factor", 0.5), ("backoff_seconds", -1), ("jitter", 1.5)],
)
def test_policy_bounds(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        RetryPolicy.model_validate({field: value})


BASE = {"name": "t", "action": {"type": "python", "function": "a.b"}}


def test_task_defaults_and_normalisation() -> None:
    spec = TaskSpec.model_validate({**BASE, "tags": ["b", "a", "b"]})
    assert spec.tags == ["a", "b"]
    assert (spec.concurrency_policy, spec.misfire_policy, spec.timeout_seconds) == (
        "forbid",
        "run_once",
        3600,
    )


@pytest.mark.parametrize(
    "body",
    [
        {**BASE, "name": " padded"},
        {**BASE, "name": "tab\there"},
        {**BASE, "tags": ["white space"]},
        {**BASE, "queue": "no spaces please"},
        {**BASE, "timeout_seconds": -1},
        {**BASE, "unknown": 1},
        {**BASE, "action": {"type": "http", "url": "ftp://example.com"}},
        {**BASE, "action": {"type": "http", "url": "https://e.com", "headers": {"Bad Name": "x"}}},
        {**BASE, "action": {"type": "shell", "command": []}},
        {**BASE, "action": {"type": "python", "function": "not a name"}},
    ],
)
def test_invalid_tasks_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TaskSpec.model_validate(body)


def test_a_patch_changes_only_what_it_names_and_is_validated_whole() -> None:
    spec = TaskSpec.model_validate({**BASE, "description": "keep"})
    patched = TaskPatch.model_validate({"priority": 5}).apply_to(spec)
    assert (patched.priority, patched.description) == (5, "keep")
    with pytest.raises(ValidationError):
        TaskPatch.model_validate({"timeout_seconds": -1}).apply_to(spec)
