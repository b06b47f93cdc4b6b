"""Tasks: create, change, pause and resume them, enforcing the rules the models cannot check alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tasksched import registry
from tasksched.aio import FreshFlight
from tasksched.clock import Clock
from tasksched.domain import schedules
from tasksched.domain.actions import PythonAction, ShellAction
from tasksched.domain.audit import Target
from tasksched.domain.principals import Actor
from tasksched.domain.runs import RunStatus, RunTrigger
from tasksched.domain.secrets import restore_masked
from tasksched.domain.tasks import TaskPatch, TaskSort, TaskSpec
from tasksched.errors import InvalidInput, NotFound, PreconditionFailed
from tasksched.events.bus import RUN_CANCEL_REQUESTED, TASK_CREATED, TASK_DELETED, TASK_UPDATED, Event
from tasksched.services import audit
from tasksched.services.context import Context
from tasksched.services.shell_allow import ShellNotAllowed, resolve_allowed
from tasksched.services.views import RECENT_RUNS, TaskListing, TaskView, task_document, task_view, with_health
from tasksched.store import Tx
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import schedule_from_row, spec_from_row, spec_values

# A listed page is served for this long without asking the database again (unless an event retires
# it sooner), and past that for up to PAGE_STALE_SECONDS while one refresh runs.
PAGE_TTL_SECONDS = 2.0
PAGE_STALE_SECONDS = 3.0
# How far a listed page may trail the runs' events (the health strip and last-run columns), never a
# task's: under a stream of run outcomes every event retires every page, and making each request
# wait for a page loaded after it asked put a database round trip (and the queue behind the one
# running) into every request: p99 0.2 to 0.9 s at 64 connections in a 100,000-slot stampede.
# Live views get the runs' changes from the event stream anyway.
RUN_LAG_SECONDS = 0.5

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class TaskQuery:
    name: str | None = None  # exactly this name (one task at most)
    q: str | None = None
    tags: tuple[str, ...] = ()  # a task listed carries all of them
    enabled: bool | None = None
    last_status: RunStatus | None = None
    sort: TaskSort = "name"
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class TagCount:
    tag: str
    tasks: int  # how many tasks carry it


class _VersionedCache(Generic[K, V]):
    """Recently listed pages (and counted totals), reused until anything changes.

    Any event (a task edited, a run queued or finished: each can change a listed field) moves the
    bus's version and so retires every page. Events from other processes arrive through the relay
    (on SQLite too, through sockets beside the file); the short time-to-live bounds staleness where
    an event is lost or no relay exists (PgBouncer in transaction mode with neither a listen URL nor
    Redis). Many viewers of the same list then cost one query, not one each.

    A page past its time-to-live, but with no change seen since, is still served while one refresh
    runs in the background (up to ``stale_for`` seconds): under load, a refresh would otherwise make
    every request for that page wait behind it.
    """

    def __init__(
        self,
        clock: Clock,
        ttl: float = PAGE_TTL_SECONDS,
        stale_for: float = PAGE_STALE_SECONDS,
        size: int = 256,
    ) -> None:
        self.clock = clock
        self.ttl = ttl
        self.stale_for = stale_for
        self.size = size
        self._entries: dict[K, tuple[int, float, V]] = {}

    def get(self, key: K, version: int) -> tuple[V, bool] | None:
        """(value, still fresh), or None when there is none for this version worth serving."""
        hit = self._entries.get(key)
        if hit is None or hit[0] != version:
            return None
        age = self.clock.monotonic() - hit[1]
        if age > self.stale_for:
            return None
        return hit[2], age <= self.ttl

    def trailing(self, key: K, since: int, max_age: float) -> V | None:
        """The entry loaded at ``since`` or later and at most ``max_age`` seconds ago, whatever changed
        after it (the caller knows those changes may be trailed)."""
        hit = self._entries.get(key)
        if hit is None or hit[0] < since or self.clock.monotonic() - hit[1] > max_age:
            return None
        return hit[2]

    def put(self, key: K, version: int, value: V) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (version, self.clock.monotonic(), value)


class TaskService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._pages: _VersionedCache[TaskQuery, TaskListing] = _VersionedCache(ctx.clock)
        self._loading: FreshFlight[TaskQuery, TaskListing] = FreshFlight("loading a page of tasks")
        # Pages of one filter share its total: counted once per change (and time-to-live), not per page.
        self._totals: _VersionedCache[tuple[object, ...], int] = _VersionedCache(ctx.clock)

    # -- rules ---------------------------------------------------------------------------------

    def check_allowed(self, spec: TaskSpec) -> None:
        """Refuse what the server's configuration forbids, naming the setting that would allow it."""
        action = spec.action
        if isinstance(action, ShellAction) and not self.ctx.settings.enable_shell:
            raise InvalidInput(
                "shell actions are disabled on this server (set TASKSCHED_ENABLE_SHELL=true to allow them)",
                field="action.type",
            )
        if isinstance(action, ShellAction) and (allowed := self.ctx.settings.shell_allow_list):
            try:
                resolve_allowed(action.command[0], allowed, action.env)
            except ShellNotAllowed as exc:
                raise InvalidInput(str(exc), field="action.command.0") from None
        if isinstance(action, PythonAction) and registry.get_function(action.function) is None:
            known = ", ".join(registry.registered_names()[:20]) or "none"
            raise InvalidInput(
                f"no Python task function is registered as {action.function!r} (registered: {known}); "
                "register it with @task in a module listed in TASKSCHED_IMPORTS",
                field="action.function",
            )

    def _next_run(self, spec: TaskSpec, *, after: datetime, anchor: datetime) -> datetime | None:
        if spec.schedule is None:
            return None
        return schedules.next_fire_after(spec.schedule, after, anchor=anchor)

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, task_id: int) -> TaskView:
        async with self.ctx.db.read() as tx:
            row = await task_store.get(tx, task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return task_view(row)

    async def list(self, query: TaskQuery) -> TaskListing:
        """A page of tasks as JSON-ready documents in the ``TaskView`` shape (the fast path for lists).

        Callers must not modify the documents: a page may be served again from the cache, and with
        it the JSON it was encoded to once (``page.json``).
        """
        version = self.ctx.bus.version  # read before querying: a change meanwhile retires the page
        cached = self._pages.get(query, version)
        if cached is not None:
            page, fresh = cached
            if not fresh:  # refreshed in the background (once), this one served meanwhile
                self._loading.start(query, self._version, lambda v: self._load_into_cache(query, v))
            return page
        # Only runs changed since a page loaded moments ago: served, and one refresh runs meanwhile.
        tasks_seen = self.ctx.bus.task_version
        trailing = self._pages.trailing(query, tasks_seen, RUN_LAG_SECONDS)
        if trailing is not None:
            self._loading.start(query, self._version, lambda v: self._load_into_cache(query, v))
            return trailing
        # Callers share one query per page at a time. A load already running serves a caller when it
        # began after the last task change the caller saw: its page is loaded after the caller asked,
        # trailing runs no more than a trailing page does. Requiring one begun after the caller's
        # last *run* event would, under a stream of them, wait for the running load to end and then
        # for a whole second one. (It was not what kept the stampede's p99 at 0.5-0.8 s: that was
        # waiting for a core, bench/RESULTS.md.)
        return await self._loading.join(
            query, tasks_seen, self._version, lambda v: self._load_into_cache(query, v)
        )

    def _version(self) -> int:
        return self.ctx.bus.version

    async def _load_into_cache(self, query: TaskQuery, version: int) -> TaskListing:
        page = await self._load_page(query, version)
        self._pages.put(query, version, page)
        return page

    async def _load_page(self, query: TaskQuery, version: int) -> TaskListing:
        matching = (query.name, query.q, query.tags, query.enabled, query.last_status)
        # Which tasks match moves only with task events, unless the filter is on their last run.
        counted_at = version if query.last_status else self.ctx.bus.task_version
        known = self._totals.get(matching, counted_at)
        total = known[0] if known is not None and known[1] else None
        async with self.ctx.db.read() as tx:
            rows, counted = await task_store.list_(
                tx,
                name=query.name,
                q=query.q,
                tags=query.tags,
                enabled=query.enabled,
                last_status=query.last_status.value if query.last_status else None,
                sort=query.sort,
                limit=query.limit,
                offset=query.offset,
                total=total,
            )
            # The page's tasks' latest runs: one statement for the page, not one per task.
            recent = await run_store.recent_for_tasks(tx, [r["id"] for r in rows], RECENT_RUNS)
        if total is None:
            self._totals.put(matching, counted_at, counted)
        return TaskListing([with_health(task_document(r), recent.get(r["id"], [])) for r in rows], counted)

    async def tags(self, *, prefix: str = "", limit: int = 20) -> tuple[TagCount, ...]:
        """Tags in use, most used first, with how many tasks carry each (what a tag picker suggests)."""
        async with self.ctx.db.read() as tx:
            found = await task_store.tag_counts(tx, prefix=prefix, limit=limit)
        return tuple(TagCount(tag=tag, tasks=n) for tag, n in found)

    # -- writes --------------------------------------------------------------------------------
    # Each takes the actor who asked and records the change in the audit log, in its transaction.

    async def create(self, spec: TaskSpec, *, actor: Actor) -> TaskView:
        spec = _with_secrets_restored(spec, None)
        self.check_allowed(spec)
        now = self.ctx.clock.now()
        _check_schedule_ahead(spec, now)
        anchor = _whole_second(now)
        values = spec_values(spec)
        values.update(
            schedule_anchor=anchor,
            next_run_at=self._next_run(spec, after=now, anchor=anchor),
            paused_at=None if spec.enabled else now,
            created_at=now,
            updated_at=now,
            version=1,
        )
        async with self.ctx.db.write() as tx:
            row = await task_store.insert(tx, values)
            await audit.record(tx, actor, "task.create", _target(row), None, task_document(row), at=now)
        task = task_view(row)
        self._publish(TASK_CREATED, task)
        return task

    async def replace(
        self, task_id: int, spec: TaskSpec, *, actor: Actor, if_match: int | None = None
    ) -> TaskView:
        return await self._change(task_id, lambda _old: spec, actor, "task.update", if_match=if_match)

    async def patch(
        self, task_id: int, patch: TaskPatch, *, actor: Actor, if_match: int | None = None
    ) -> TaskView:
        return await self._change(task_id, patch.apply_to, actor, "task.update", if_match=if_match)

    async def set_enabled(self, task_id: int, enabled: bool, *, actor: Actor) -> TaskView:
        return await self._change(
            task_id,
            lambda old: old.model_copy(update={"enabled": enabled}),
            actor,
            "task.resume" if enabled else "task.pause",
            if_match=None,
        )

    async def _change(
        self, task_id: int, make_spec: Any, actor: Actor, action: str, *, if_match: int | None
    ) -> TaskView:
        async with self.ctx.db.write() as tx:
            row = await task_store.get(tx, task_id, for_update=True)
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            if if_match is not None and row["version"] != if_match:
                raise PreconditionFailed(
                    f"task {task_id} is at version {row['version']}, not {if_match}: it changed meanwhile; "
                    "reload it and apply your change again",
                    current_version=row["version"],
                )
            old = spec_from_row(row)
            new: TaskSpec = _with_secrets_restored(make_spec(old), old)
            if new.action != old.action:
                self.check_allowed(new)
            values = await self._change_values(tx, row, old, new)
            updated = await task_store.update(tx, task_id, values, expected_version=row["version"])
            if updated is None:  # pragma: no cover - the row is locked (PostgreSQL) or the writer is alone
                raise PreconditionFailed(f"task {task_id} changed meanwhile; reload it")
            await audit.record(
                tx,
                actor,
                action,
                _target(updated),
                task_document(row),
                task_document(updated),
                at=values["updated_at"],
            )
        task = task_view(updated)
        self._publish(TASK_UPDATED, task)
        return task

    async def _change_values(
        self, tx: Tx, row: dict[str, Any], old: TaskSpec, new: TaskSpec
    ) -> dict[str, Any]:
        now = self.ctx.clock.now()
        values = spec_values(new)
        values["updated_at"] = now
        if new.schedule != old.schedule:
            # Only a schedule being set must lie ahead: an edit of other fields keeps a once
            # schedule whose time has passed since it was saved.
            _check_schedule_ahead(new, now)
            values["schedule_anchor"] = _whole_second(now)
            values["next_run_at"] = self._next_run(new, after=now, anchor=values["schedule_anchor"])
        pausing = old.enabled and not new.enabled
        if pausing or new.schedule != old.schedule:
            # Slots fired ahead of their time (scheduler/fire_ahead.py) have not happened yet: they
            # follow the task's new state, as if the scheduler had not looked ahead.
            withdrawn = await run_store.withdraw_fired_ahead(tx, row["id"], now=now)
            if withdrawn and new.schedule == old.schedule:
                values["next_run_at"] = min(withdrawn)
        if pausing:
            values["paused_at"] = now
        elif new.enabled and not old.enabled:
            values["paused_at"] = None
            if new.schedule == old.schedule:
                await self._record_paused_slots(tx, row, new, now)
                values["next_run_at"] = self._next_run(new, after=now, anchor=row["schedule_anchor"])
        return values

    async def _record_paused_slots(self, tx: Tx, row: dict[str, Any], spec: TaskSpec, now: datetime) -> None:
        """On resume, leave one record saying how many slots the pause skipped."""
        schedule = schedule_from_row(row)
        first = row["next_run_at"]
        if schedule is None or first is None or first > now:
            return
        missed = 1 + schedules.count_slots_between(schedule, first, now, anchor=row["schedule_anchor"])
        since = row["paused_at"] or first
        await run_store.insert(
            tx,
            [
                {
                    "task_id": row["id"],
                    "task_name": spec.name,
                    "trigger": RunTrigger.SCHEDULE.value,
                    "scheduled_for": first,
                    "attempt": 1,
                    "status": RunStatus.SKIPPED.value,
                    "reason": f"paused: {missed} slot(s) from {first.isoformat()} to {now.isoformat()} "
                    f"not run (paused since {since.isoformat()})",
                    "queue": spec.queue,
                    "priority": spec.priority,
                    "queued_at": now,
                    "available_at": now,
                    "finished_at": now,
                }
            ],
        )

    async def delete(self, task_id: int, *, actor: Actor) -> None:
        async with self.ctx.db.write() as tx:
            row = await task_store.get(tx, task_id, for_update=True)
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            active = await run_store.active_for_tasks(tx, [task_id])
            running = [r["id"] for r in active.get(task_id, []) if r["status"] == "running"]
            await run_store.request_cancel(tx, running)
            await task_store.delete(tx, task_id)
            await audit.record(
                tx, actor, "task.delete", _target(row), task_document(row), None, at=self.ctx.clock.now()
            )
        self.ctx.bus.publish(Event(TASK_DELETED, {"task_id": task_id}))
        if running:
            self.ctx.bus.publish(
                *(Event(RUN_CANCEL_REQUESTED, {"run_id": r, "task_id": task_id}) for r in running)
            )

    def _publish(self, kind: str, task: TaskView) -> None:
        self.ctx.bus.publish(
            Event(kind, {"task_id": task.id, "enabled": task.enabled, "version": task.version})
        )


def _target(row: dict[str, Any]) -> Target:
    return Target("task", row["id"], row["name"])


def _whole_second(when: datetime) -> datetime:
    """Interval slots count from a whole second, so their times read cleanly (12:00:05, not 12:00:05.3297)."""
    return when.replace(microsecond=0)


def _check_schedule_ahead(spec: TaskSpec, now: datetime) -> None:
    """A schedule set to fire only in the past would be saved with no next run, and never run."""
    problem = schedules.check_ahead(spec.schedule, now)
    if problem is not None:
        field, message = problem
        raise InvalidInput(message, field=f"schedule.{field}")


def _with_secrets_restored(spec: TaskSpec, old: TaskSpec | None) -> TaskSpec:
    """Secret values come back masked; a task sent back with a mask keeps its stored value."""
    try:
        action = restore_masked(spec.action, old.action if old else None)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise InvalidInput(message, field=field) from None
    return spec if action is spec.action else spec.model_copy(update={"action": action})
