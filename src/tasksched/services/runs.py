"""Runs as users see them: history, one run, run-now and cancel."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasksched.domain.actions import RunInput, input_mismatch
from tasksched.domain.audit import Target
from tasksched.domain.principals import Actor
from tasksched.domain.runs import RetryPolicy, Run, RunStatus, RunTrigger
from tasksched.errors import Conflict, InvalidInput, NotFound
from tasksched.events.bus import RUN_CANCEL_REQUESTED, RUN_CREATED, RUN_UPDATED, Event
from tasksched.observability import metrics
from tasksched.services import audit
from tasksched.services.context import Context
from tasksched.services.outcomes import Ended, after_outcomes
from tasksched.services.run_rows import new_run_row
from tasksched.store import Tx
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import run_from_row

# How many runs one POST /api/runs:batch may queue.
MAX_BATCH = 5000
# An idempotency key: 1-200 printable ASCII characters (it travels in a header).
_KEY = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,199}$")


def check_key(key: str, field: str) -> None:
    if not _KEY.fullmatch(key) or key != key.strip():
        raise InvalidInput(
            "an idempotency key is 1-200 printable ASCII characters, with no space at either end",
            field=field,
        )


def input_digest(given: dict[str, Any] | None) -> str:
    """What tells two inputs apart for an idempotency key: SHA-256 of the input as canonical JSON."""
    text = json.dumps(given or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class _KeyTaken(Exception):
    """An idempotency key was recorded by another request first: this transaction rolls back."""


@dataclass(frozen=True)
class Enqueued:
    run: Run
    created: bool  # False: an idempotent repeat, ``run`` is the key's first run


@dataclass(frozen=True)
class BatchItem:
    task_id: int
    input: RunInput | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class BatchEntry:
    """One item of a batch, queued (``created``) or an idempotent repeat of ``run_id``."""

    index: int
    run_id: int
    task_id: int
    created: bool


# A list counts its matches this far past the page asked for, no further (see RunService.list).
COUNT_AHEAD = 1000


@dataclass(frozen=True)
class RunQuery:
    task_id: int | None = None
    statuses: Sequence[RunStatus] = ()
    trigger: RunTrigger | None = None
    triggers: Sequence[RunTrigger] = ()
    scheduled_from: datetime | None = None  # inclusive
    scheduled_to: datetime | None = None  # exclusive
    error_contains: str | None = None
    finished_from: datetime | None = None  # inclusive
    finished_to: datetime | None = None  # exclusive
    limit: int = 50
    offset: int = 0

    def where(self) -> run_store.RunFilter:
        """The filter alone (no paging): what a list shows and a bulk retry of "all matching" takes."""
        if self.scheduled_from and self.scheduled_to and self.scheduled_from >= self.scheduled_to:
            raise InvalidInput("scheduled_from must be before scheduled_to")
        if self.finished_from and self.finished_to and self.finished_from >= self.finished_to:
            raise InvalidInput("finished_from must be before finished_to")
        triggers = [t.value for t in self.triggers]
        if self.trigger is not None:
            triggers.append(self.trigger.value)
        text = (self.error_contains or "").strip()
        return run_store.RunFilter(
            task_id=self.task_id,
            statuses=[s.value for s in self.statuses],
            triggers=triggers,
            scheduled_from=self.scheduled_from,
            scheduled_to=self.scheduled_to,
            error_contains=text or None,
            finished_from=self.finished_from,
            finished_to=self.finished_to,
        )


# Outcomes a person may answer with another attempt by hand (a success or a skip is re-run instead).
RETRYABLE_BY_HAND = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED})
# How many runs one bulk retry may queue: "all matching" over a wide filter must be narrowed first.
MAX_BULK_RETRY = 1000


@dataclass(frozen=True)
class RetryResult:
    queued: list[Run]  # the new attempts
    skipped: dict[int, str]  # run id -> why it was not retried


class RunService:
    def __init__(self, ctx: Context, *, rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self._rng = rng or random.Random()  # what follows an outcome takes one (a cancel retries nothing)

    async def get(self, run_id: int) -> Run:
        async with self.ctx.db.read() as tx:
            row = await run_store.get(tx, run_id)
            if row is None:
                raise NotFound(f"run {run_id} does not exist")
            [run] = await _with_max_attempts(tx, [run_from_row(row)])
        return run

    async def list(self, query: RunQuery) -> tuple[list[Run], int, bool]:
        """A page of runs, how many match, and whether that count is exact: counting stops
        ``COUNT_AHEAD`` runs past the page (the count is then a lower bound), so that a list costs
        the same on a history of fifty million runs as on an empty one."""
        # Bounded by what a database integer holds (the offset may be the largest there is).
        count_at_most = min(query.offset + query.limit + COUNT_AHEAD, 2**63 - 1)
        async with self.ctx.db.read() as tx:
            if query.task_id is not None and await task_store.get(tx, query.task_id) is None:
                raise NotFound(f"task {query.task_id} does not exist")
            rows, total = await run_store.list_(
                tx, where=query.where(), limit=query.limit, offset=query.offset, count_at_most=count_at_most
            )
            items = await _with_max_attempts(tx, [run_from_row(r) for r in rows])
        return items, total, total < count_at_most

    async def count(self, query: RunQuery) -> int:
        """How many runs match, exactly (reads every matching row: for tools and benchmarks; the API
        lists with ``list``, whose count is bounded)."""
        async with self.ctx.db.read() as tx:
            _, total = await run_store.list_(tx, where=query.where(), limit=1)
        return total

    async def run_now(
        self,
        task_id: int,
        *,
        actor: Actor,
        run_input: RunInput | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Queue a manual run now (see ``enqueue``); the run, whether this call made it or not."""
        return (
            await self.enqueue(task_id, actor=actor, run_input=run_input, idempotency_key=idempotency_key)
        ).run

    async def enqueue(
        self,
        task_id: int,
        *,
        actor: Actor,
        run_input: RunInput | None = None,
        idempotency_key: str | None = None,
    ) -> Enqueued:
        """Queue a manual run now, whatever the schedule, pause state or concurrency policy.

        ``run_input`` is applied to the task's action by the worker (``domain.actions.apply_input``)
        and carried by every retry of the run; an input for another action type than the task's is
        refused (422 naming the field), nothing written. With ``idempotency_key``, a second call
        with the same key for the same task queues nothing and returns the first call's run
        (``created`` False); the same key with another input is a ``Conflict``. The key is held by
        a primary key (``run_keys``), so two concurrent calls cannot both queue a run.

        One statement queues the run (INSERT … SELECT from the task … RETURNING every column);
        recorded in the audit log as ``task.run`` on the task, with the queued run as ``after``.
        """
        given = (run_input.given or None) if run_input is not None else None
        if idempotency_key is not None:
            check_key(idempotency_key, "Idempotency-Key")
        digest = input_digest(given)
        now = self.ctx.clock.now()
        try:
            async with self.ctx.db.write() as tx:
                run = await self._insert_manual(tx, task_id, now=now, given=given, run_input=run_input)
                if idempotency_key is not None and not await run_store.claim_key(
                    tx,
                    task_id=task_id,
                    key=idempotency_key,
                    run_id=run.id,
                    scheduled_for=run.scheduled_for,
                    digest=digest,
                    now=now,
                ):
                    raise _KeyTaken  # rolls the run back: the key's first run stands
                target = Target("task", task_id, run.task_name)
                after = audit.run_document(run)
                if given is not None or idempotency_key is not None:
                    after = {**after, "input": given, "idempotency_key": idempotency_key}
                await audit.record(tx, actor, "task.run", target, None, after, at=now)
        except _KeyTaken:
            assert idempotency_key is not None
            return await self._repeat(task_id, idempotency_key, digest)
        self.ctx.bus.publish(Event(RUN_CREATED, _run_event(run)))
        return Enqueued(run=run, created=True)

    async def _insert_manual(
        self,
        tx: Any,
        task_id: int,
        *,
        now: datetime,
        given: dict[str, Any] | None,
        run_input: RunInput | None,
    ) -> Run:
        kind = run_input.action_type() if run_input is not None else None
        # The slot key is the request time; if that slot is taken (runs requested within the same
        # microsecond), the run goes just after the newest one.
        slot = now
        for _ in range(3):
            row = await run_store.insert_manual(
                tx, task_id, scheduled_for=slot, now=now, run_input=given, action_type=kind
            )
            if row is not None:
                retry = row.pop("task_retry")
                return run_from_row(
                    {**row, "max_attempts": RetryPolicy.model_validate(retry).max_attempts if retry else None}
                )
            # Nothing inserted: find out why (off the common path).
            task = await task_store.get(tx, task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist")
            if run_input is not None and (wrong := input_mismatch(run_input, task["action"]["type"])):
                raise InvalidInput(wrong[1], field=wrong[0])
            latest = await run_store.latest_slot(tx, task_id, not_before=now)
            slot = (latest or now) + timedelta(microseconds=1)
        raise Conflict("too many manual runs at once; try again")  # pragma: no cover - racing writers

    async def _repeat(self, task_id: int, key: str, digest: str) -> Enqueued:
        async with self.ctx.db.read() as tx:
            found = (await run_store.keyed_runs(tx, [(task_id, key)])).get((task_id, key))
            if found is None or found["run"] is None:  # pragma: no cover - a key goes with its run
                raise Conflict(
                    f"the run of Idempotency-Key {key!r} is being deleted; try again", field="Idempotency-Key"
                )
            # The same answer as the first call's, attempts included.
            [run] = await _with_max_attempts(tx, [run_from_row(found["run"])])
        if found["input_digest"] != digest:
            raise Conflict(
                f"Idempotency-Key {key!r} was sent before with another input (it queued run "
                f"{found['run_id']}); use a new key for another run",
                field="Idempotency-Key",
            )
        return Enqueued(run=run, created=False)

    async def enqueue_many(self, items: Sequence[BatchItem], *, actor: Actor) -> tuple[BatchEntry, ...]:
        """Queue manual runs of one or many tasks at once: every item is checked first (a bad one
        is refused naming its index, ``runs.3.input.body``, and nothing is written), then all are
        queued in one transaction (multi-row INSERTs), with one audit row (``runs.batch``) and
        their events published together. An item whose ``idempotency_key`` (per task) was used
        before queues nothing: its entry is the key's run with ``created`` False.
        """
        if not items:
            raise InvalidInput("give at least one run", field="runs")
        if len(items) > MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH} runs at once", field="runs")
        seen: dict[tuple[int, str], int] = {}
        for i, item in enumerate(items):
            if item.idempotency_key is not None:
                check_key(item.idempotency_key, f"runs.{i}.idempotency_key")
                pair = (item.task_id, item.idempotency_key)
                if pair in seen:
                    raise InvalidInput(
                        f"repeats the idempotency key of runs.{seen[pair]} for the same task",
                        field=f"runs.{i}.idempotency_key",
                    )
                seen[pair] = i
        for _ in range(3):
            try:
                return await self._enqueue_many_once(items, actor=actor)
            except _KeyTaken:
                continue  # a concurrent request took a key first: the next pass sees it as a repeat
        raise Conflict(
            "concurrent requests keep taking the same idempotency keys; try again"
        )  # pragma: no cover

    async def _enqueue_many_once(self, items: Sequence[BatchItem], *, actor: Actor) -> tuple[BatchEntry, ...]:
        now = self.ctx.clock.now()
        given = [(item.input.given or None) if item.input is not None else None for item in items]
        async with self.ctx.db.write() as tx:
            tasks = await task_store.get_many(tx, [i.task_id for i in items], columns=task_store.RUN_COLUMNS)
            for i, item in enumerate(items):
                task = tasks.get(item.task_id)
                if task is None:
                    raise InvalidInput(f"task {item.task_id} does not exist", field=f"runs.{i}.task_id")
                if item.input is not None and (wrong := input_mismatch(item.input, task["action"]["type"])):
                    raise InvalidInput(wrong[1], field=f"runs.{i}.{wrong[0]}")
            keyed = [(i.task_id, i.idempotency_key) for i in items if i.idempotency_key is not None]
            existing = await run_store.keyed_runs(tx, keyed)
            results: list[BatchEntry | None] = [None] * len(items)
            slots: dict[int, datetime] = {}  # item index -> the slot its new run took
            fresh: list[int] = []  # indexes of the items that queue a run
            for i, item in enumerate(items):
                found = existing.get((item.task_id, item.idempotency_key or ""))
                if found is None:
                    fresh.append(i)
                    continue
                if found["input_digest"] != input_digest(given[i]) or found["run"] is None:
                    raise Conflict(
                        f"idempotency key {item.idempotency_key!r} was sent before with another input "
                        f"(it queued run {found['run_id']}); use a new key for another run",
                        field=f"runs.{i}.idempotency_key",
                    )
                results[i] = BatchEntry(index=i, run_id=found["run_id"], task_id=item.task_id, created=False)
            # Each item takes its own slot: the request time, or just after the task's newest slot,
            # one microsecond apart. A slot a concurrent writer took is tried again further on.
            pending = fresh
            for _ in range(3):
                if not pending:
                    break
                latest = await run_store.latest_slots(tx, [items[i].task_id for i in pending], not_before=now)
                nth: dict[int, int] = {}
                rows: list[dict[str, Any]] = []
                for i in pending:
                    task_id = items[i].task_id
                    k = nth[task_id] = nth.get(task_id, -1) + 1
                    base = latest[task_id] + timedelta(microseconds=1) if task_id in latest else now
                    rows.append(
                        new_run_row(
                            tasks[task_id],
                            trigger=RunTrigger.MANUAL,
                            scheduled_for=base + timedelta(microseconds=k),
                            attempt=1,
                            now=now,
                            run_input=given[i],
                        )
                    )
                inserted = {(r["task_id"], r["scheduled_for"]): r for r in await run_store.insert(tx, rows)}
                left: list[int] = []
                for i, row in zip(pending, rows, strict=True):
                    got = inserted.get((row["task_id"], row["scheduled_for"]))
                    if got is None:
                        left.append(i)
                    else:
                        results[i] = BatchEntry(
                            index=i, run_id=got["id"], task_id=row["task_id"], created=True
                        )
                        slots[i] = row["scheduled_for"]
                pending = left
            if pending:  # pragma: no cover - racing writers on every try
                raise Conflict("too many manual runs at once; try again")
            key_rows = [
                {
                    "task_id": items[i].task_id,
                    "key": items[i].idempotency_key,
                    "run_id": r.run_id,
                    "scheduled_for": slots[i],
                    "input_digest": input_digest(given[i]),
                    "created_at": now,
                }
                for i in fresh
                if items[i].idempotency_key is not None and (r := results[i]) is not None
            ]
            if len(await run_store.claim_keys(tx, key_rows)) < len(key_rows):
                raise _KeyTaken
            done = tuple(r for r in results if r is not None)
            created = [r.run_id for r in done if r.created]
            after = {
                "created": created,
                "repeated": [r.run_id for r in done if not r.created],
                "tasks": sorted({items[i].task_id for i in fresh}),
            }
            name = f"{len(created)} run{'' if len(created) == 1 else 's'} queued"
            await audit.record(tx, actor, "runs.batch", Target("runs", None, name), None, after, at=now)
        self.ctx.bus.publish(
            *(
                Event(RUN_CREATED, {"run_id": r.run_id, "task_id": r.task_id, "status": "queued"})
                for r in done
                if r.created
            )
        )
        return done

    async def cancel(self, run_id: int, *, actor: Actor) -> Run:
        """Cancel a queued run, or ask a running run's worker to stop it; the run's ``reason`` says
        who asked (a running run keeps it when its worker records the cancellation)."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            row = await run_store.get(tx, run_id)
            if row is None:
                raise NotFound(f"run {run_id} does not exist")
            before = run_from_row(row)
            status = RunStatus(row["status"])
            aftermath = None
            if status is RunStatus.QUEUED:
                await run_store.cancel_queued(tx, [run_id], reason=f"cancelled by {actor}", now=now)
                # A user's cancel is an outcome like any other: the task's last run says so. No
                # attempt follows (a cancelled run is not retried), hence no Attempt.
                ended = [Ended(run_id=run_id, task_id=row["task_id"], status=RunStatus.CANCELLED, at=now)]
                aftermath = await after_outcomes(tx, ended, rng=self._rng, bus=self.ctx.bus)
            elif status is RunStatus.RUNNING:
                await run_store.request_cancel(tx, [run_id], reason=f"cancel requested by {actor}")
            else:
                raise Conflict(f"run {run_id} has already finished ({status.value}); nothing to cancel")
            row = await run_store.get(tx, run_id)
            assert row is not None
            [run] = await _with_max_attempts(tx, [run_from_row(row)])
            await audit.record(
                tx,
                actor,
                "run.cancel",
                Target("run", run_id, run.task_name),
                audit.run_document(before),
                audit.run_document(run),
                at=now,
            )
        if aftermath is not None:
            metrics.run_finished(run.task_name, RunStatus.CANCELLED.value)
        events = [Event(RUN_UPDATED, _run_event(run))]
        if aftermath is not None:  # its own RUN_UPDATED carries less than the one above
            events.extend(e for e in aftermath.events if e.type != RUN_UPDATED)
        if status is RunStatus.RUNNING:
            events.append(Event(RUN_CANCEL_REQUESTED, _run_event(run)))
        self.ctx.bus.publish(*events)
        return run

    async def retry(
        self, *, actor: Actor, run_ids: Sequence[int] = (), query: RunQuery | None = None
    ) -> RetryResult:
        """Queue another attempt, now, of each run named (``run_ids``) or matching ``query``.

        One transaction and one audit row (``runs.retry``) for the whole batch. The new attempt
        takes the next attempt number of the run's slot (trigger ``retry``), whatever the retry
        policy says is left. A run is skipped, with the reason said, when it did not fail, time
        out or get cancelled, or when its slot already has a later attempt or an active one.
        """
        if bool(run_ids) == (query is not None):
            raise InvalidInput("give either run_ids or a filter, not both and not neither")
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            if query is not None:
                where = query.where()
                rows = await run_store.matching(tx, where, limit=MAX_BULK_RETRY + 1)
                if len(rows) > MAX_BULK_RETRY:
                    raise InvalidInput(
                        f"more than {MAX_BULK_RETRY} runs match; narrow the filter to retry them at once"
                    )
            else:
                if len(run_ids) > MAX_BULK_RETRY:
                    raise InvalidInput(f"at most {MAX_BULK_RETRY} runs at once")
                rows = await run_store.by_ids(tx, run_ids)
                missing = set(run_ids) - {r["id"] for r in rows}
                if missing:
                    raise NotFound(f"run {min(missing)} does not exist")
            skipped: dict[int, str] = {}
            slots = await run_store.slot_attempts(tx, [(r["task_id"], r["scheduled_for"]) for r in rows])
            tasks = {t: await task_store.get(tx, t) for t in {r["task_id"] for r in rows}}
            new_rows: list[dict[str, Any]] = []
            taken: set[tuple[int, datetime]] = set()
            sources: dict[tuple[int, datetime, int], int] = {}  # new attempt's key -> the run it retries
            for r in rows:
                slot = (r["task_id"], r["scheduled_for"])
                attempts = slots.get(slot, [])
                task = tasks[r["task_id"]]
                if RunStatus(r["status"]) not in RETRYABLE_BY_HAND:
                    skipped[r["id"]] = (
                        f"it {r['status'].replace('_', ' ')}; only a failed, timed-out or cancelled run is retried"
                    )
                elif task is None:  # pragma: no cover - runs go with their task
                    skipped[r["id"]] = "its task is gone"
                elif slot in taken:
                    skipped[r["id"]] = "another run of its slot is retried in this request"
                elif any(RunStatus(a["status"]).is_active for a in attempts):
                    skipped[r["id"]] = "its slot has a queued or running attempt already"
                elif attempts and attempts[-1]["attempt"] > r["attempt"]:
                    skipped[r["id"]] = f"its slot has a later attempt (run {attempts[-1]['id']})"
                else:
                    taken.add(slot)
                    number = max(a["attempt"] for a in attempts) + 1 if attempts else r["attempt"] + 1
                    sources[(r["task_id"], r["scheduled_for"], number)] = r["id"]
                    new_rows.append(
                        new_run_row(
                            task,
                            trigger=RunTrigger.RETRY,
                            scheduled_for=r["scheduled_for"],
                            attempt=number,
                            now=now,
                            run_input=r["input"],
                        )
                    )
            inserted = await run_store.insert(tx, new_rows)
            won = {(i["task_id"], i["scheduled_for"], i["attempt"]) for i in inserted}
            for key, run_id in sources.items():
                if key not in won:  # a concurrent writer queued that attempt first
                    skipped[run_id] = "its slot was given another attempt meanwhile"
            queued: list[Run] = []
            retried: dict[str, int] = {}
            for row in inserted:
                got = await run_store.get(tx, row["id"])
                assert got is not None
                queued.append(run_from_row(got))
                retried[str(sources[(row["task_id"], row["scheduled_for"], row["attempt"])])] = row["id"]
            queued = await _with_max_attempts(tx, queued)
            selection: dict[str, Any]
            if query is not None:
                selection = {"filter": _filter_document(query.where())}
            else:
                selection = {"run_ids": sorted(set(run_ids))}
            after = {
                **selection,
                "retried": retried,
                "skipped": {str(k): v for k, v in skipped.items()},
            }
            name = f"{len(queued)} run{'' if len(queued) == 1 else 's'} retried"
            await audit.record(tx, actor, "runs.retry", Target("runs", None, name), None, after, at=now)
        self.ctx.bus.publish(*(Event(RUN_CREATED, _run_event(run)) for run in queued))
        return RetryResult(queued=queued, skipped=skipped)


def _filter_document(f: run_store.RunFilter) -> dict[str, Any]:
    document: dict[str, Any] = {
        "task_id": f.task_id,
        "statuses": list(f.statuses),
        "triggers": list(f.triggers),
        "scheduled_from": f.scheduled_from.isoformat() if f.scheduled_from else None,
        "scheduled_to": f.scheduled_to.isoformat() if f.scheduled_to else None,
        "error_contains": f.error_contains,
    }
    # The finished-time range only when given (audit entries written before it stay alike).
    if f.finished_from:
        document["finished_from"] = f.finished_from.isoformat()
    if f.finished_to:
        document["finished_to"] = f.finished_to.isoformat()
    return document


async def _with_max_attempts(tx: Tx, items: list[Run]) -> list[Run]:
    """The runs with their task's ``max_attempts`` (one read of their tasks)."""
    found = await task_store.get_many(tx, [r.task_id for r in items], columns=task_store.RETRY_COLUMNS)
    return [
        r.model_copy(
            update={"max_attempts": RetryPolicy.model_validate(found[r.task_id]["retry"]).max_attempts}
        )
        if r.task_id in found
        else r
        for r in items
    ]


def _run_event(run: Run) -> dict[str, Any]:
    return {"run_id": run.id, "task_id": run.task_id, "status": run.status.value}
