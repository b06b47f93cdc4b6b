"""What follows an outcome: the one place that decides it.

A run reaches a final status where a worker records what happened (``finish``), where the reaper
takes back a run whose worker vanished (``reap``), where a draining worker ends a run whose cancel it
had not seen (``release``), and where the scheduler records skipped slots and cancels what the
``replace`` policy displaces (``fire_due``), and where a user cancels a queued run
(``RunService.cancel``). Each calls ``after_outcomes`` in the same transaction as
the outcome, so what follows is committed with it or not at all:

- the next attempt, when the status is retryable and the task's retry policy has one left;
- the task's last-run summary (its newest ended run);
- the events to publish once the transaction has committed (returned, not published here: an
  event about a write that then rolls back would be a lie).

- the notices the outcome rules write to the outbox (a final failure, N in a row, a recovery:
  ``services/notices.py``), committed with the outcome, so none is lost and none is invented.

Chained runs belong here too when they come.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tasksched.domain.runs import RetryPolicy, RunStatus, RunTrigger, next_attempt_delay
from tasksched.events.bus import RUN_CREATED, RUN_UPDATED, Event, EventBus
from tasksched.services.notices import Finished, notices_for_outcomes
from tasksched.services.run_rows import new_run_row
from tasksched.store import Tx
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store


@dataclass(frozen=True)
class Attempt:
    """The attempt that ended, as much as another attempt is made from."""

    task: Mapping[str, Any]  # the task's row: id, name, queue, priority
    scheduled_for: datetime
    number: int
    policy: RetryPolicy
    retry_after: float | None = None  # a Python function asked for the next attempt this much later
    input: Mapping[str, Any] | None = None  # the run's input (RunInput.given): every attempt takes it


@dataclass(frozen=True)
class Ended:
    """A run that reached a final status in the current transaction."""

    run_id: int
    task_id: int
    status: RunStatus
    at: datetime
    attempt: Attempt | None = None  # None: no further attempt is considered (e.g. its task is gone)
    created: bool = False  # recorded already ended (a skipped slot), rather than moved there


@dataclass(frozen=True)
class Retry:
    """The next attempt queued for an ended run."""

    run_id: int
    attempt: int
    available_at: datetime


@dataclass
class Aftermath:
    retries: dict[int, Retry] = field(default_factory=dict)  # by the id of the run that ended
    events: list[Event] = field(default_factory=list)  # to publish after the commit


async def after_outcomes(tx: Tx, ended: Sequence[Ended], *, rng: random.Random, bus: EventBus) -> Aftermath:
    """Queue next attempts, update last-run summaries, and say which events to publish.

    A next attempt is queued at the moment its run ended (``Ended.at``) and waits out its delay.
    """
    aftermath = Aftermath()
    if not ended:
        return aftermath
    rows: list[dict[str, Any]] = []
    asked: dict[tuple[int, datetime, int], int] = {}
    for e in ended:
        if e.attempt is None:
            continue
        delay = next_attempt_delay(
            e.status, e.attempt.policy, e.attempt.number, retry_after=e.attempt.retry_after, rng=rng
        )
        if delay is None:
            continue
        row = new_run_row(
            e.attempt.task,
            trigger=RunTrigger.RETRY,
            scheduled_for=e.attempt.scheduled_for,
            attempt=e.attempt.number + 1,
            now=e.at,
            available_at=e.at + timedelta(seconds=delay),
            run_input=e.attempt.input,
        )
        rows.append(row)
        asked[(e.task_id, row["scheduled_for"], row["attempt"])] = e.run_id
    inserted = await run_store.insert(tx, rows)
    available = {(r["task_id"], r["scheduled_for"], r["attempt"]): r["available_at"] for r in rows}
    for r in inserted:
        key = (r["task_id"], r["scheduled_for"], r["attempt"])
        if key in asked:
            aftermath.retries[asked[key]] = Retry(
                run_id=r["id"], attempt=r["attempt"], available_at=available[key]
            )
    # Before the last-run summaries change: the rules read the last run before these.
    notice_events = await notices_for_outcomes(
        tx,
        [Finished(e.run_id, e.task_id, e.status, e.at, retried=e.run_id in aftermath.retries) for e in ended],
    )
    await task_store.record_last_runs(tx, _latest_per_task(ended))

    updates = bus.wants(RUN_UPDATED)  # a worker finishing thousands of runs with no one listening
    for e in ended:
        if e.created or updates:
            data = {"run_id": e.run_id, "task_id": e.task_id, "status": e.status.value}
            aftermath.events.append(Event(RUN_CREATED if e.created else RUN_UPDATED, data))
    aftermath.events.extend(
        Event(RUN_CREATED, {"run_id": r["id"], "task_id": r["task_id"], "status": r["status"]})
        for r in inserted
    )
    aftermath.events.extend(notice_events)
    return aftermath


def _latest_per_task(ended: Sequence[Ended]) -> list[dict[str, Any]]:
    """One last-run summary per task (its newest run in the batch), not one update per run."""
    latest: dict[int, Ended] = {}
    for e in ended:
        seen = latest.get(e.task_id)
        if seen is None or e.run_id > seen.run_id:
            latest[e.task_id] = e
    return [
        {"id": e.task_id, "run_id": e.run_id, "status": e.status.value, "at": e.at} for e in latest.values()
    ]
