"""Task rows: create, read, list with filters, compare-and-set updates, due-task selection.

An action's secret values are sealed on their way in and unsealed on their way out (``crypto.py``):
the rows these functions take and return hold them in clear, the database holds them sealed. Listed
rows hold them masked instead: a listing never shows them, and decrypting a page of them would cost
tens of microseconds each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tasksched.domain.task_sort import SORT_FIELDS, TaskSort
from tasksched.errors import Conflict
from tasksched.store import Tx, crypto
from tasksched.store.dialect import lock_rows, update_by_key
from tasksched.store.tables import task_tags, tasks

TaskRow = dict[str, Any]


def _sealed(values: dict[str, Any]) -> dict[str, Any]:
    if "action" not in values:
        return values
    return {**values, "action": crypto.seal_action(values["action"])}


def _masked(row: Any) -> TaskRow:
    plain: TaskRow = dict(row)
    plain["action"] = crypto.masked_action(plain["action"])
    return plain


def _unsealed(row: Any) -> TaskRow:
    plain: TaskRow = dict(row)
    if "action" in plain:
        plain["action"] = crypto.unseal_action(plain["action"])
    return plain


SORTABLE = {field: tasks.c[field] for field in SORT_FIELDS}


async def insert(tx: Tx, values: dict[str, Any]) -> TaskRow:
    if await name_taken(tx, values["name"]):
        raise Conflict(f"a task named {values['name']!r} already exists", field="name")
    try:
        result = await tx.execute(tasks.insert().values(_sealed(values)).returning(*tasks.c))
    except IntegrityError as exc:  # a concurrent insert won the race for the name
        raise Conflict(f"a task named {values['name']!r} already exists", field="name") from exc
    row = {**result.mappings().one(), "action": values["action"]}
    await _set_tags(tx, row["id"], values["tags"])
    return row


async def insert_many(tx: Tx, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many tasks in one statement (bulk loads); a duplicate name fails the whole batch."""
    if not rows:
        return []
    try:
        result = await tx.execute(
            tasks.insert().returning(tasks.c.id, sort_by_parameter_order=True), [_sealed(r) for r in rows]
        )
    except IntegrityError as exc:
        raise Conflict("a task in the batch has a name that already exists", field="name") from exc
    ids = [int(i) for i in result.scalars()]
    tags = [{"task_id": i, "tag": tag} for i, row in zip(ids, rows, strict=True) for tag in row["tags"]]
    if tags:
        await tx.execute(task_tags.insert(), tags)
    return ids


async def name_taken(tx: Tx, name: str, *, except_id: int | None = None) -> bool:
    query = sa.select(tasks.c.id).where(tasks.c.name == name)
    if except_id is not None:
        query = query.where(tasks.c.id != except_id)
    return (await tx.execute(query.limit(1))).first() is not None


async def _set_tags(tx: Tx, task_id: int, tags: Iterable[str]) -> None:
    await tx.execute(task_tags.delete().where(task_tags.c.task_id == task_id))
    rows = [{"task_id": task_id, "tag": tag} for tag in tags]
    if rows:
        await tx.execute(task_tags.insert(), rows)


async def get(tx: Tx, task_id: int, *, for_update: bool = False) -> TaskRow | None:
    query = sa.select(tasks).where(tasks.c.id == task_id)
    if for_update:
        # Wait for a scheduler holding the row: skipping it would report the task missing.
        query = lock_rows(tx, query, skip_locked=False)
    row = (await tx.execute(query)).mappings().first()
    return _unsealed(row) if row else None


# What a worker needs of a task to execute its runs and queue their retries.
EXECUTION_COLUMNS = tuple(
    tasks.c[name] for name in ("id", "name", "action", "timeout_seconds", "retry", "queue", "priority")
)

# What a manual run is made from (and its input checked against).
RUN_COLUMNS = tuple(tasks.c[name] for name in ("id", "name", "action", "queue", "priority"))

# What a run's page needs of its task: how many attempts its retry policy allows.
RETRY_COLUMNS = (tasks.c.id, tasks.c.retry)


async def get_many(
    tx: Tx, task_ids: Sequence[int], *, columns: Sequence[sa.ColumnElement[Any]] | None = None
) -> dict[int, TaskRow]:
    if not task_ids:
        return {}
    query = sa.select(*columns) if columns else sa.select(tasks)
    result = await tx.execute(query.where(tasks.c.id.in_(list(set(task_ids)))))
    return {row["id"]: _unsealed(row) for row in result.mappings()}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matching(
    *,
    name: str | None = None,
    q: str | None = None,
    tags: Sequence[str] = (),
    enabled: bool | None = None,
    last_status: str | None = None,
) -> list[sa.ColumnElement[bool]]:
    """The WHERE of a task filter (the list's, and the bulk actions' that apply to what it matches)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if name is not None:  # exact: the unique index finds it
        conditions.append(tasks.c.name == name)
    if q:
        pattern = f"%{_escape_like(q)}%"
        conditions.append(
            sa.or_(tasks.c.name.ilike(pattern, escape="\\"), tasks.c.description.ilike(pattern, escape="\\"))
        )
    for tag in dict.fromkeys(tags):  # every tag given: a task must carry all of them
        conditions.append(
            tasks.c.id.in_(sa.select(task_tags.c.task_id).where(task_tags.c.tag == tag).scalar_subquery())
        )
    if enabled is not None:
        conditions.append(tasks.c.enabled == enabled)
    if last_status:
        conditions.append(tasks.c.last_run_status == last_status)
    return conditions


def _order(sort: TaskSort) -> list[sa.ColumnElement[Any]]:
    descending = sort.startswith("-")
    field = sort.lstrip("-")
    column = SORTABLE[field]
    direction = column.desc() if descending else column.asc()
    if field == "next_run_at":
        # A paused task keeps the slot it had but will not run then (the list shows none): it goes
        # after every enabled task whichever way, as do tasks with no next run, and paused tasks
        # among themselves by name, as are ties.
        upcoming = sa.case((tasks.c.enabled.is_(True), column))
        ahead = upcoming.desc() if descending else upcoming.asc()
        return [tasks.c.enabled.is_(False), upcoming.is_(None), ahead, tasks.c.name.asc(), tasks.c.id.asc()]
    # NULLs go last either way; id breaks ties so pages never overlap.
    if column.nullable:
        return [column.is_(None), direction, tasks.c.id.asc()]
    # No NULLs to push last: the sort can then follow an index (name has one).
    return [direction, tasks.c.id.asc()]


async def list_(
    tx: Tx,
    *,
    name: str | None = None,
    q: str | None = None,
    tag: str | None = None,
    tags: Sequence[str] = (),
    enabled: bool | None = None,
    last_status: str | None = None,
    sort: TaskSort = "name",
    limit: int = 50,
    offset: int = 0,
    total: int | None = None,
) -> tuple[list[TaskRow], int]:
    """A page of tasks and the number matching; a ``total`` the caller already knows is not recounted.

    ``tag`` and ``tags`` both filter: a task listed carries every tag given.
    """
    conditions = _matching(
        name=name,
        q=q,
        tags=[*tags, *([tag] if tag else [])],
        enabled=enabled,
        last_status=last_status,
    )
    query = sa.select(tasks).where(*conditions).order_by(*_order(sort)).limit(limit).offset(offset)
    rows = [_masked(r) for r in (await tx.execute(query)).mappings()]
    if offset == 0 and len(rows) < limit:
        total = len(rows)
    elif total is None:
        count = sa.select(sa.func.count()).select_from(tasks).where(*conditions)
        total = int((await tx.execute(count)).scalar_one())
    return rows, total


async def matching_ids(
    tx: Tx,
    *,
    q: str | None = None,
    tags: Sequence[str] = (),
    enabled: bool | None = None,
    last_status: str | None = None,
    limit: int,
) -> list[int]:
    """The ids of up to ``limit`` tasks a list filter matches, in id order."""
    query = (
        sa.select(tasks.c.id)
        .where(*_matching(q=q, tags=tags, enabled=enabled, last_status=last_status))
        .order_by(tasks.c.id)
        .limit(limit)
    )
    return [int(i) for i in (await tx.execute(query)).scalars()]


async def tag_counts(tx: Tx, *, prefix: str = "", limit: int = 20) -> list[tuple[str, int]]:
    """Tags in use and how many tasks carry each, most used first (then by name); with ``prefix``,
    only tags starting with it, in any case."""
    n = sa.func.count().label("n")
    query = sa.select(task_tags.c.tag, n).group_by(task_tags.c.tag).order_by(n.desc(), task_tags.c.tag)
    if prefix:
        query = query.where(task_tags.c.tag.ilike(f"{_escape_like(prefix)}%", escape="\\"))
    return [(str(tag), int(count)) for tag, count in (await tx.execute(query.limit(limit))).all()]


# What a bulk action needs of a task: whether it is paused, and what resuming it recomputes.
BULK_COLUMNS = tuple(
    tasks.c[name]
    for name in (
        "id", "name", "enabled", "schedule", "schedule_anchor", "next_run_at", "paused_at", "queue",
        "priority",
    )
)  # fmt: skip

# Statements take ids in chunks of this many: well under the bound-parameter limits of both drivers.
_ID_CHUNK = 1000


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _ID_CHUNK):
        yield list(ids[start : start + _ID_CHUNK])


async def lock_many(tx: Tx, task_ids: Sequence[int]) -> list[TaskRow]:
    """The ``BULK_COLUMNS`` of the tasks named that exist, in id order, locked for the transaction
    (waiting for a scheduler holding one: a bulk action must not skip a task it was asked about)."""
    rows: list[TaskRow] = []
    for chunk in _chunks(sorted(set(task_ids))):
        query = sa.select(*BULK_COLUMNS).where(tasks.c.id.in_(chunk)).order_by(tasks.c.id)
        rows.extend(dict(r) for r in (await tx.execute(lock_rows(tx, query, skip_locked=False))).mappings())
    return rows


async def set_enabled_many(tx: Tx, changes: Sequence[dict[str, Any]], *, now: datetime) -> dict[int, int]:
    """Pause or resume many tasks: [{"id", "enabled", "paused_at", "next_run_at"}]; each task's
    version moves on. Returns each changed task's new version."""
    if not changes:
        return {}
    stmt = (
        sa.update(tasks)
        .where(tasks.c.id == sa.bindparam("b_id"))
        .values(
            enabled=sa.bindparam("b_enabled"),
            paused_at=sa.bindparam("b_paused_at"),
            next_run_at=sa.bindparam("b_next"),
            updated_at=now,
            version=tasks.c.version + 1,
        )
    )
    await tx.execute(
        stmt,
        [
            {
                "b_id": c["id"],
                "b_enabled": c["enabled"],
                "b_paused_at": c["paused_at"],
                "b_next": c["next_run_at"],
            }
            for c in changes
        ],
    )
    versions: dict[int, int] = {}
    for chunk in _chunks([c["id"] for c in changes]):
        query = sa.select(tasks.c.id, tasks.c.version).where(tasks.c.id.in_(chunk))
        versions.update({int(i): int(v) for i, v in (await tx.execute(query)).all()})
    return versions


async def delete_many(tx: Tx, task_ids: Sequence[int]) -> int:
    deleted = 0
    for chunk in _chunks(list(task_ids)):
        deleted += (await tx.execute(sa.delete(tasks).where(tasks.c.id.in_(chunk)))).rowcount or 0
    return deleted


async def update(
    tx: Tx, task_id: int, values: dict[str, Any], *, expected_version: int | None
) -> TaskRow | None:
    """Compare-and-set on ``version``: None when the task is gone or the version moved on."""
    if "name" in values and await name_taken(tx, values["name"], except_id=task_id):
        raise Conflict(f"a task named {values['name']!r} already exists", field="name")
    stmt = sa.update(tasks).where(tasks.c.id == task_id)
    if expected_version is not None:
        stmt = stmt.where(tasks.c.version == expected_version)
    stmt = stmt.values(**_sealed(values), version=tasks.c.version + 1).returning(*tasks.c)
    try:
        row = (await tx.execute(stmt)).mappings().first()
    except IntegrityError as exc:
        raise Conflict("a task with that name already exists", field="name") from exc
    if row is None:
        return None
    if "tags" in values:
        await _set_tags(tx, task_id, values["tags"])
    return _unsealed(row)


async def delete(tx: Tx, task_id: int) -> bool:
    result = await tx.execute(sa.delete(tasks).where(tasks.c.id == task_id))
    return bool(result.rowcount)


# What firing needs of a task: reading less than the whole row keeps a 1,000-task pass quick.
_FIRING_COLUMNS = [
    tasks.c[name]
    for name in (
        "id", "name", "schedule", "schedule_anchor", "next_run_at", "concurrency_policy",
        "misfire_policy", "misfire_grace_seconds", "queue", "priority",
    )
]  # fmt: skip


async def due(tx: Tx, now: datetime, limit: int) -> list[TaskRow]:
    """Enabled tasks whose next slot has come, oldest first, locked against other schedulers."""
    query = (
        sa.select(*_FIRING_COLUMNS)
        .where(tasks.c.enabled.is_(True), tasks.c.next_run_at <= now)
        .order_by(tasks.c.next_run_at)
        .limit(limit)
    )
    return [dict(r) for r in (await tx.execute(lock_rows(tx, query))).mappings()]


# What the upcoming view needs of a task.
PLANNING_COLUMNS = [
    tasks.c[name] for name in ("id", "name", "enabled", "schedule", "schedule_anchor", "next_run_at")
]  # fmt: skip


async def plannable(
    tx: Tx, start: datetime, end: datetime, *, enough: int, tag: str | None = None
) -> list[TaskRow]:
    """Enabled tasks that may fire in ``[start, end)``: those whose next slot is before ``end``,
    soonest first, read through the due index.

    A next slot at or after ``start`` is itself a slot in the window, so once ``enough`` tasks have
    one, a task whose next slot is later than theirs cannot come among the first ``enough`` slots:
    those are left out (ties kept). Tasks whose next slot is before ``start`` are all kept.
    """
    scheduled = [tasks.c.enabled.is_(True), tasks.c.next_run_at.is_not(None), tasks.c.next_run_at < end]
    with_tag = []
    if tag:
        with_tag.append(
            tasks.c.id.in_(sa.select(task_tags.c.task_id).where(task_tags.c.tag == tag).scalar_subquery())
        )
    cut = (
        sa.select(tasks.c.next_run_at)
        .where(*scheduled, *with_tag, tasks.c.next_run_at >= start)
        .order_by(tasks.c.next_run_at)
        .offset(enough - 1)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        sa.select(*PLANNING_COLUMNS)
        .where(
            *scheduled,
            *with_tag,
            sa.or_(tasks.c.next_run_at < start, tasks.c.next_run_at <= sa.func.coalesce(cut, end)),
        )
        .order_by(tasks.c.next_run_at, tasks.c.id)
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def earliest_next_run(tx: Tx, *, after: datetime | None = None) -> datetime | None:
    """The earliest slot of an enabled task (only those later than ``after``, when given)."""
    query = (
        sa.select(tasks.c.next_run_at)
        .where(tasks.c.enabled.is_(True), tasks.c.next_run_at.is_not(None))
        .order_by(tasks.c.next_run_at)
        .limit(1)
    )
    if after is not None:
        query = query.where(tasks.c.next_run_at > after)
    value: datetime | None = (await tx.execute(query)).scalar_one_or_none()
    return value


async def count_due_between(tx: Tx, start: datetime, end: datetime, *, cap: int) -> int:
    """How many enabled tasks have their next slot in ``[start, end]``, counting no further than
    ``cap``: it reads at most ``cap`` entries of the due index however large the crowd."""
    crowd = (
        sa.select(tasks.c.id)
        .where(tasks.c.enabled.is_(True), tasks.c.next_run_at >= start, tasks.c.next_run_at <= end)
        .limit(cap)
        .subquery()
    )
    return int((await tx.execute(sa.select(sa.func.count()).select_from(crowd))).scalar_one())


async def advance(tx: Tx, changes: Sequence[dict[str, Any]]) -> None:
    """Set ``next_run_at`` for many tasks at once: [{"id": …, "next_run_at": …}, …]."""
    await update_by_key(tx, tasks, "id", "next_run_at", [(c["id"], c["next_run_at"]) for c in changes])


async def record_last_runs(tx: Tx, summaries: Sequence[dict[str, Any]]) -> None:
    """[{"id": task_id, "run_id", "status", "at"}]: the task's last-run summary, never moved backwards."""
    if not summaries:
        return
    stmt = (
        sa.update(tasks)
        .where(
            tasks.c.id == sa.bindparam("b_id"),
            sa.or_(tasks.c.last_run_id.is_(None), tasks.c.last_run_id <= sa.bindparam("b_run_id")),
        )
        .values(
            last_run_id=sa.bindparam("b_run_id"),
            last_run_status=sa.bindparam("b_status"),
            last_run_at=sa.bindparam("b_at"),
        )
    )
    await tx.execute(
        stmt,
        [
            {"b_id": s["id"], "b_run_id": s["run_id"], "b_status": s["status"], "b_at": s["at"]}
            for s in summaries
        ],
    )


async def counts(tx: Tx) -> dict[str, int]:
    query = sa.select(tasks.c.enabled, sa.func.count()).group_by(tasks.c.enabled)
    by_state = {bool(enabled): int(n) for enabled, n in (await tx.execute(query)).all()}
    enabled = by_state.get(True, 0)
    paused = by_state.get(False, 0)
    return {"total": enabled + paused, "enabled": enabled, "paused": paused}


async def next_due(tx: Tx, limit: int) -> list[TaskRow]:
    query = (
        sa.select(tasks.c.id, tasks.c.name, tasks.c.next_run_at)
        .where(tasks.c.enabled.is_(True), tasks.c.next_run_at.is_not(None))
        .order_by(tasks.c.next_run_at)
        .limit(limit)
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


# -- sealing what is stored ----------------------------------------------------------------------

_SECRET_BEARING = tasks.c.action["type"].as_string().in_(["http", "shell"])


async def reseal(tx: Tx, after_id: int, limit: int) -> tuple[int | None, int]:
    """Seal with the current key the secrets of up to ``limit`` tasks after ``after_id`` (in clear, or
    sealed with another key). Returns the last id looked at (None: no more) and how many were changed.

    A task changed meanwhile (another version) is left alone: its writer sealed it with its own key.
    The version is not moved: the task itself has not changed.
    """
    query = (
        sa.select(tasks.c.id, tasks.c.version, tasks.c.action)
        .where(tasks.c.id > after_id, _SECRET_BEARING)
        .order_by(tasks.c.id)
        .limit(limit)
    )
    rows = (await tx.execute(query)).all()
    current = crypto.keyring().current
    changes = [
        {"b_id": row.id, "b_version": row.version, "b_action": crypto.reseal_action(row.action)}
        for row in rows
        if crypto.action_keys(row.action) - {current}
    ]
    if changes:
        stmt = (
            sa.update(tasks)
            .where(tasks.c.id == sa.bindparam("b_id"), tasks.c.version == sa.bindparam("b_version"))
            .values(action=sa.bindparam("b_action"))
        )
        await tx.execute(stmt, changes)
    return (rows[-1].id if len(rows) == limit else None), len(changes)
