"""Runs as users see them: history, one run, run-now and cancel."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasksched.domain.audit import Target
from tasksched.domain.principals import Actor
from tasksched.domain.runs import Run, RunStatus, RunTrigger
from tasksched.errors import Conflict, InvalidInput, NotFound
from tasksched.events.bus import RUN_CANCEL_REQUESTED, RUN_CREATED, RUN_UPDATED, Event
from tasksched.observability import metrics
from tasksched.services import audit
from tasksched.services.context import Context
from tasksched.services.outcomes import Ended, after_outcomes
from tasksched.services.run_rows import new_run_row
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import run_from_row

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
    limit: int = 50
    offset: int = 0

    def where(self) -> run_store.RunFilter:
        """The filter alone (no paging): what a list shows and a bulk retry of "all matching" takes."""
        if self.scheduled_from and self.scheduled_to and self.scheduled_from >= self.scheduled_to:
            raise InvalidInput("scheduled_from must be before scheduled_to")
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
        return run_from_row(row)

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
        return [run_from_row(r) for r in rows], total, total < count_at_most

    async def count(self, query: RunQuery) -> int:
        """How many runs match, exactly (reads every matching row: for tools and benchmarks; the API
        lists with ``list``, whose count is bounded)."""
        async with self.ctx.db.read() as tx:
            _, total = await run_store.list_(tx, where=query.where(), limit=1)
        return total

    async def run_now(self, task_id: int, *, actor: Actor) -> Run:
        """Queue a manual run now, whatever the schedule, pause state or concurrency policy.

        Recorded in the audit log as ``task.run`` on the task, with the queued run as ``after``."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            task = await task_store.get(tx, task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist")
            # The slot key is the request time; if that slot is taken (runs requested within the same
            # microsecond), the run goes just after the newest one.
            slot = now
            for _ in range(3):
                inserted = await run_store.insert(
                    tx, [new_run_row(task, trigger=RunTrigger.MANUAL, scheduled_for=slot, attempt=1, now=now)]
                )
                if inserted:
                    break
                latest = await run_store.latest_slot(tx, task_id, not_before=now)
                slot = (latest or now) + timedelta(microseconds=1)
            else:  # pragma: no cover - only a concurrent writer on every try could get here
                raise Conflict("too many manual runs at once; try again")
            row = await run_store.get(tx, inserted[0]["id"])
            assert row is not None
            run = run_from_row(row)
            target = Target("task", task_id, task["name"])
            await audit.record(tx, actor, "task.run", target, None, audit.run_document(run), at=now)
        self.ctx.bus.publish(Event(RUN_CREATED, _run_event(run)))
        return run

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
            run = run_from_row(row)
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
    return {
        "task_id": f.task_id,
        "statuses": list(f.statuses),
        "triggers": list(f.triggers),
        "scheduled_from": f.scheduled_from.isoformat() if f.scheduled_from else None,
        "scheduled_to": f.scheduled_to.isoformat() if f.scheduled_to else None,
        "error_contains": f.error_contains,
    }


def _run_event(run: Run) -> dict[str, Any]:
    return {"run_id": run.id, "task_id": run.task_id, "status": run.status.value}
