"""Writing notices: which rule fires for what, and to which channels, in the caller's transaction.

Two places write them. ``after_outcomes`` (services/outcomes.py) calls ``notices_for_outcomes`` in
the transaction that records runs ending: final failures, N in a row, recoveries. The scheduler
calls ``NoticeChecks.check`` in a transaction of its own, from what it knows without any worker:
slots late to start, runs running too long, tasks without a recent success.

Each notice has a dedupe key naming its occurrence (``failed:run:12``, ``late:3:2027-…``); the
outbox keeps one per channel and key, so a check that finds the same late slot on every pass writes
it once. Rule state (failures in a row, whether a failure was noticed, the last success) is kept only
while at least one channel is enabled: with none, finishing runs costs one indexed read and nothing
more. A task's state row is made at its first final failure; a success with a clean state leaves
the row alone, since the task's last run says when it last succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasksched.domain.base import STORED, utc_text
from tasksched.domain.notifications import ChannelSpec, NoticeKind, NotifyDefaults, NotifyRules
from tasksched.domain.runs import RunStatus
from tasksched.events.bus import NOTICE_CREATED, Event
from tasksched.services.channels import channel_spec, load_defaults
from tasksched.services.context import Context
from tasksched.store import Tx
from tasksched.store import channels as channel_store
from tasksched.store import notices as notice_store
from tasksched.store import tasks as task_store

FAILURES = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT})
CHECK_BATCH = 1000
_ERROR_CHARS = 500


@dataclass(frozen=True)
class Finished:
    """A run that reached a final status (as ``after_outcomes`` sees it)."""

    run_id: int
    task_id: int
    status: RunStatus
    at: datetime
    retried: bool  # another attempt was queued: not a final failure


@dataclass(frozen=True)
class Occurrence:
    kind: NoticeKind
    key: str
    task: dict[str, Any]  # id, name, tags
    text: str
    run: dict[str, Any] | None
    threshold: float | None
    at: datetime


def rules_of(task: dict[str, Any], defaults: NotifyDefaults) -> NotifyRules:
    raw = task.get("notify")
    return defaults.rules if raw is None else NotifyRules.model_validate(raw, context=STORED)


class _Channels:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.specs: list[tuple[int, ChannelSpec]] = [(r["id"], channel_spec(r)) for r in rows]

    def __bool__(self) -> bool:
        return bool(self.specs)

    def for_(self, kind: NoticeKind, task: dict[str, Any]) -> list[int]:
        tags = list(task.get("tags") or [])
        return [i for i, spec in self.specs if spec.wants(kind) and spec.scope.covers(task["id"], tags)]


async def _enabled_channels(tx: Tx) -> _Channels:
    return _Channels(await channel_store.list_(tx, enabled_only=True))


async def _write(tx: Tx, channels: _Channels, found: Sequence[Occurrence]) -> int:
    rows: list[dict[str, Any]] = []
    for o in found:
        payload = {
            "kind": o.kind.value,
            "text": o.text,
            "task": {"id": o.task["id"], "name": o.task["name"], "tags": list(o.task.get("tags") or [])},
            "run": o.run,
            "rule": {"kind": o.kind.value, "threshold": o.threshold},
            "status": (o.run or {}).get("status"),
            # The notifier turns this into ``url`` with TASKSCHED_PUBLIC_URL.
            "path": f"/runs/{o.run['id']}" if o.run and o.run.get("id") else f"/tasks/{o.task['id']}",
            "created_at": utc_text(o.at),
            "dedupe_key": o.key,
        }
        rows.extend(
            {
                "channel_id": channel_id,
                "kind": o.kind.value,
                "dedupe_key": o.key,
                "task_id": o.task["id"],
                "task_name": o.task["name"],
                "run_id": (o.run or {}).get("id"),
                "text": o.text,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": o.at,
                "created_at": o.at,
            }
            for channel_id in channels.for_(o.kind, o.task)
        )
    return await notice_store.insert(tx, rows)


# -- after outcomes ----------------------------------------------------------------------------


async def notices_for_outcomes(tx: Tx, finished: Sequence[Finished]) -> list[Event]:
    """Apply the outcome rules to runs that just ended; write their notices. Returns the events to
    publish after the commit (one ``notice.created`` when anything was written).

    Runs succeeding one after another are the common case and the hot path: a batch with no final
    failure costs two statements (the channels, the tasks whose state has failures). It runs before
    the tasks' last-run summaries are updated: a failure reads the last run before it.
    """
    relevant = [
        f for f in finished if f.status is RunStatus.SUCCEEDED or (f.status in FAILURES and not f.retried)
    ]
    if not relevant:
        return []
    channels = await _enabled_channels(tx)
    if not channels:
        return []
    if any(f.status in FAILURES for f in relevant):
        planned = await _plan_with_failures(tx, channels, relevant)
    else:
        planned = await _plan_successes(tx, relevant)
    runs = await notice_store.run_summaries(tx, [p[3].run_id for p in planned])
    found = [
        _occurrence(kind, key, task, _run_doc(runs.get(f.run_id), f), threshold, f.at)
        for kind, key, task, f, threshold in planned
    ]
    written = await _write(tx, channels, found)
    return [Event(NOTICE_CREATED, {"count": written})] if written else []


# (kind, dedupe key, task row, the run that ended, threshold)
_Planned = tuple[NoticeKind, str, dict[str, Any], Finished, float | None]


async def _plan_successes(tx: Tx, succeeded: Sequence[Finished]) -> list[_Planned]:
    """Successes only: tasks with failures in their state (usually none) are reset, and those
    whose failure was noticed get their recovery. A task whose state is clean is left alone: its
    last run (this success) says when it last succeeded."""
    first: dict[int, Finished] = {}
    last: dict[int, datetime] = {}
    for f in sorted(succeeded, key=lambda f: f.run_id):
        first.setdefault(f.task_id, f)
        last[f.task_id] = max(last.get(f.task_id, f.at), f.at)
    failing = await notice_store.failing(tx, list(first))
    if not failing:
        return []
    await notice_store.record_successes(tx, {task_id: last[task_id] for task_id in failing})
    noticed = [task_id for task_id, was_noticed in failing.items() if was_noticed]
    if not noticed:
        return []
    defaults = await load_defaults(tx)
    tasks = await task_store.get_many(tx, noticed, columns=notice_store.TASK_COLUMNS)
    return [
        (NoticeKind.RECOVERED, f"recovered:run:{first[task_id].run_id}", task, first[task_id], None)
        for task_id, task in sorted(tasks.items())
        if rules_of(task, defaults).on_recovery
    ]


async def _plan_with_failures(tx: Tx, channels: _Channels, relevant: Sequence[Finished]) -> list[_Planned]:
    defaults = await load_defaults(tx)
    columns = (*notice_store.TASK_COLUMNS, *notice_store.LAST_RUN_COLUMNS)
    tasks = await task_store.get_many(tx, [f.task_id for f in relevant], columns=columns)
    states = await notice_store.lock_states(tx, list(tasks), min(f.at for f in relevant))
    planned: list[_Planned] = []
    changed: dict[int, dict[str, Any]] = {}
    for f in sorted(relevant, key=lambda f: f.run_id):
        task = tasks.get(f.task_id)
        if task is None:
            continue
        rules = rules_of(task, defaults)
        state = {**(changed.get(f.task_id) or states[f.task_id]), "updated_at": f.at}
        if f.task_id not in changed:
            # Successes with a clean state leave it alone (see _plan_successes): the task's last
            # run before this batch may be a success the state has not seen.
            state["last_success_at"] = _latest(state["last_success_at"], _last_run_success(task))
        if f.status is RunStatus.SUCCEEDED:
            if state["failure_noticed"] and rules.on_recovery:
                planned.append((NoticeKind.RECOVERED, f"recovered:run:{f.run_id}", task, f, None))
            state.update(consecutive_failures=0, failure_noticed=False, last_success_at=f.at)
        else:
            state["consecutive_failures"] += 1
            noticed: list[_Planned] = []
            if rules.on_failure:
                noticed.append((NoticeKind.FAILED, f"failed:run:{f.run_id}", task, f, None))
            n = rules.consecutive_failures
            if n is not None and state["consecutive_failures"] == n:
                key = f"consecutive:{f.task_id}:run:{f.run_id}"
                noticed.append((NoticeKind.CONSECUTIVE_FAILURES, key, task, f, n))
            if any(channels.for_(p[0], task) for p in noticed):
                state["failure_noticed"] = True
            planned.extend(noticed)
        changed[f.task_id] = state
    await notice_store.save_states(tx, list(changed.values()))
    return planned


def _last_run_success(task: dict[str, Any]) -> datetime | None:
    return task["last_run_at"] if task["last_run_status"] == RunStatus.SUCCEEDED.value else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    known = [t for t in (a, b) if t is not None]
    return max(known) if known else None


def _run_doc(summary: dict[str, Any] | None, f: Finished) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": f.run_id, "status": f.status.value, "finished_at": utc_text(f.at)}
    if summary is not None:
        doc.update(
            attempt=summary["attempt"],
            scheduled_for=utc_text(summary["scheduled_for"]),
            started_at=utc_text(summary["started_at"]) if summary["started_at"] else None,
            error=(summary["error"] or "")[:_ERROR_CHARS] or None,
        )
    return doc


def _occurrence(
    kind: NoticeKind,
    key: str,
    task: dict[str, Any],
    run: dict[str, Any] | None,
    threshold: float | None,
    at: datetime,
) -> Occurrence:
    return Occurrence(kind, key, task, describe(kind, task["name"], run, threshold), run, threshold, at)


def describe(kind: NoticeKind, task_name: str, run: dict[str, Any] | None, threshold: float | None) -> str:
    """A notice's words: one line that says what happened, then the error when there is one."""
    run_id = (run or {}).get("id")
    error = (run or {}).get("error")
    name = f"Task '{task_name}'"
    if kind is NoticeKind.FAILED:
        status = "timed out" if (run or {}).get("status") == RunStatus.TIMED_OUT.value else "failed"
        attempt = (run or {}).get("attempt")
        tries = f" after {attempt} attempts" if attempt and attempt > 1 else ""
        text = f"{name} {status}{tries} (run #{run_id})."
    elif kind is NoticeKind.CONSECUTIVE_FAILURES:
        text = f"{name} has failed {threshold:g} times in a row (latest: run #{run_id})."
    elif kind is NoticeKind.RECOVERED:
        text = f"{name} succeeded again (run #{run_id}) after failing."
        error = None
    elif kind is NoticeKind.LATE_START:
        slot = (run or {}).get("scheduled_for")
        text = f"{name}: the run due at {slot} has not started {threshold:g} s after its time."
    elif kind is NoticeKind.LONG_RUNNING:
        text = f"{name}: run #{run_id} is still running after {threshold:g} s."
    elif kind is NoticeKind.NO_SUCCESS:
        since = (run or {}).get("last_success_at")
        text = f"{name} has not succeeded for {threshold:g} h" + (
            f" (last success {since})." if since else " (never)."
        )
    else:
        text = f"{name}: {kind.value}."
    return f"{text}\n{error}" if error else text


# -- the scheduler's checks --------------------------------------------------------------------


class NoticeChecks:
    """Rules that watch time rather than outcomes, evaluated by the scheduler."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def check(self, now: datetime | None = None) -> int:
        """Write the notices of late slots, long runs and tasks without success; return how many."""
        now = now or self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            channels = await _enabled_channels(tx)
            if not channels:
                return 0
            defaults = await load_defaults(tx)
            found = await self._late(tx, now, defaults)
            found += await self._long(tx, now, defaults)
            found += await self._no_success(tx, now, defaults)
            written = await _write(tx, channels, found)
        if written:
            self.ctx.bus.publish(Event(NOTICE_CREATED, {"count": written}))
        return written

    async def _late(self, tx: Tx, now: datetime, defaults: NotifyDefaults) -> list[Occurrence]:
        """Slots not started N seconds after their time: queued and unclaimed (no worker took
        them), or not even fired (no scheduler fired them); the same slot has the same key."""
        before = now - timedelta(seconds=1)
        queued = await notice_store.late_queued(tx, before=before, limit=CHECK_BATCH)
        unfired = await notice_store.overdue_tasks(tx, before=before, limit=CHECK_BATCH)
        tasks = await task_store.get_many(
            tx, [r["task_id"] for r in queued], columns=notice_store.TASK_COLUMNS
        )
        tasks.update({t["id"]: t for t in unfired})
        slots = [(r["task_id"], r["scheduled_for"], r["available_at"], r["id"]) for r in queued]
        slots += [(t["id"], t["next_run_at"], t["next_run_at"], None) for t in unfired]
        found = []
        for task_id, slot, due, run_id in slots:
            task = tasks.get(task_id)
            if task is None:
                continue
            limit = rules_of(task, defaults).late_start_seconds
            if limit is None or (now - due).total_seconds() < limit:
                continue
            run = {"id": run_id, "status": "queued" if run_id else None, "scheduled_for": utc_text(slot)}
            key = f"late:{task_id}:{utc_text(slot)}"
            found.append(_occurrence(NoticeKind.LATE_START, key, task, run, limit, now))
        return _unique(found)

    async def _long(self, tx: Tx, now: datetime, defaults: NotifyDefaults) -> list[Occurrence]:
        running = await notice_store.running_since(tx, before=now - timedelta(seconds=1), limit=CHECK_BATCH)
        tasks = await task_store.get_many(
            tx, [r["task_id"] for r in running], columns=notice_store.TASK_COLUMNS
        )
        found = []
        for r in running:
            task = tasks.get(r["task_id"])
            limit = rules_of(task, defaults).long_running_seconds if task else None
            if task is None or limit is None or (now - r["started_at"]).total_seconds() < limit:
                continue
            run = {
                "id": r["id"],
                "status": "running",
                "attempt": r["attempt"],
                "started_at": utc_text(r["started_at"]),
            }
            found.append(_occurrence(NoticeKind.LONG_RUNNING, f"long:run:{r['id']}", task, run, limit, now))
        return found

    async def _no_success(self, tx: Tx, now: datetime, defaults: NotifyDefaults) -> list[Occurrence]:
        own_only = defaults.rules.no_success_hours is None
        watched = await notice_store.success_watch(tx, own_rule_only=own_only, limit=CHECK_BATCH * 10)
        found = []
        for t in watched:
            hours = rules_of(t, defaults).no_success_hours
            if hours is None:
                continue
            known = [x for x in (t["last_success_at"], t["last_run_success_at"]) if x is not None]
            since = max(known) if known else t["created_at"]
            if now - since < timedelta(hours=hours):
                continue
            run = {"id": None, "status": None, "last_success_at": utc_text(max(known)) if known else None}
            key = f"no_success:{t['id']}:{utc_text(since)}"
            found.append(_occurrence(NoticeKind.NO_SUCCESS, key, t, run, hours, now))
        return found


def _unique(found: list[Occurrence]) -> list[Occurrence]:
    seen: dict[str, Occurrence] = {}
    for o in found:
        seen.setdefault(o.key, o)
    return list(seen.values())
