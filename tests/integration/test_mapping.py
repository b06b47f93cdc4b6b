"""The fast list path (task documents built from rows) must equal the models' own JSON."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from tasksched.clock import FrozenClock
from tasksched.domain.principals import CLI
from tasksched.domain.tasks import TaskPatch
from tasksched.events.bus import RUN_UPDATED, TASK_UPDATED, Event
from tasksched.services.context import Context
from tasksched.services.firing import FiringService
from tasksched.services.tasks import (
    PAGE_STALE_SECONDS,
    PAGE_TTL_SECONDS,
    RUN_LAG_SECONDS,
    TaskQuery,
    TaskService,
)
from tasksched.services.views import TaskListItem, TaskView
from tasksched.store.tables import tasks

SHAPES: list[dict[str, Any]] = [
    {
        "action": {
            "type": "http",
            "method": "POST",
            "url": "https://example.com/x",
            "headers": {"A": "b"},
            "body": {"k": [1, 2.5]},
            "expect_status": [200, 204],
        }
    },
    {
        "action": {"type": "python", "function": "tests.echo", "args": [1, "two"], "kwargs": {"x": None}},
        "schedule": None,
    },
    {
        "schedule": {
            "type": "cron",
            "expression": "*/5 * * * *",
            "timezone": "Europe/Berlin",
            "jitter_seconds": 1.5,
        }
    },
    {"schedule": {"type": "once", "at": "2030-01-01T09:00:00Z"}, "timeout_seconds": None, "tags": ["b", "a"]},
    {
        "schedule": {
            "type": "interval",
            "seconds": 10,
            "start_at": "2026-06-01T12:00:00Z",
            "end_at": "2031-01-01T00:00:00+02:00",
        }
    },
]


@pytest.mark.parametrize("shape", SHAPES)
async def test_documents_equal_model_json(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, shape: dict[str, Any]
) -> None:
    task = await make_task(**shape)
    clock.advance(3600)
    await FiringService(frozen_ctx).fire_due()  # gives some tasks a last run (skipped or queued)
    page = await TaskService(frozen_ctx).list(TaskQuery())
    (doc,) = [d for d in page.items if d["id"] == task.id]
    assert TaskListItem.model_validate(doc).model_dump(mode="json") == doc
    # A list item is the task's view plus its health (recent runs, success rate, last duration).
    view = {name: value for name, value in doc.items() if name in TaskView.model_fields}
    assert view == (await TaskService(frozen_ctx).get(task.id)).model_dump(mode="json")


async def test_a_change_retires_cached_pages(frozen_ctx: Context, make_task: Any) -> None:
    service = TaskService(frozen_ctx)
    task = await make_task(name="before")
    first = await service.list(TaskQuery())
    again = await service.list(TaskQuery())
    assert again is first  # served from the cache

    await service.patch(task.id, TaskPatch(name="after"), actor=CLI)
    fresh = await service.list(TaskQuery())
    assert [d["name"] for d in fresh.items] == ["after"]


async def test_a_page_carries_its_json_encoded_once(frozen_ctx: Context, make_task: Any) -> None:
    service = TaskService(frozen_ctx)
    await make_task(name="one")
    page = await service.list(TaskQuery())
    assert orjson.loads(page.json) == {"items": page.items, "total": 1}
    assert (await service.list(TaskQuery())).json is page.json  # the cached page's bytes, not new ones


async def rename_elsewhere(ctx: Context, task_id: int, name: str) -> None:
    """As another process on the same SQLite file would: no event reaches this process's bus."""
    async with ctx.db.write() as tx:
        await tx.execute(sa.update(tasks).where(tasks.c.id == task_id).values(name=name))


async def test_a_cached_page_ages_by_the_injected_clock(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    """A change no event announced shows within the page time-to-live plus its grace, measured on
    the context's clock: the frozen clock alone decides, however long the test really takes."""
    service = TaskService(frozen_ctx)
    task = await make_task(name="before")
    first = await service.list(TaskQuery())
    await rename_elsewhere(frozen_ctx, task.id, "after")

    clock.advance(PAGE_TTL_SECONDS - 0.1)
    assert await service.list(TaskQuery()) is first  # fresh: served as it is
    clock.advance(0.2)  # stale, within the grace: still served, while one refresh runs
    assert await service.list(TaskQuery()) is first
    for _ in range(100):  # the background refresh lands in a few event-loop turns
        if (page := await service.list(TaskQuery())) is not first:
            break
        await asyncio.sleep(0.01)
    assert [d["name"] for d in page.items] == ["after"]


async def test_a_page_past_its_grace_is_loaded_again(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    service = TaskService(frozen_ctx)
    task = await make_task(name="before")
    await service.list(TaskQuery())
    await rename_elsewhere(frozen_ctx, task.id, "after")
    clock.advance(PAGE_STALE_SECONDS + 0.1)
    assert [d["name"] for d in (await service.list(TaskQuery())).items] == ["after"]


async def _refreshed(service: TaskService, first: object) -> Any:
    """The page once the background refresh has landed (a few event-loop turns)."""
    for _ in range(100):
        if (page := await service.list(TaskQuery())) is not first:
            return page
        await asyncio.sleep(0.01)
    raise AssertionError("the page was never refreshed")


async def test_a_page_trails_run_events_briefly_while_it_is_refreshed(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    """Under a stream of run outcomes a list request is answered at once from a page at most
    RUN_LAG_SECONDS old, and one refresh runs meanwhile; past that age it waits for a fresh page."""
    service = TaskService(frozen_ctx)
    task = await make_task(name="before")
    first = await service.list(TaskQuery())
    await rename_elsewhere(frozen_ctx, task.id, "after")  # stands for what the run changed
    frozen_ctx.bus.deliver_local([Event(RUN_UPDATED, {"run_id": 1, "task_id": task.id})])
    clock.advance(RUN_LAG_SECONDS - 0.1)
    assert await service.list(TaskQuery()) is first  # trailing the run event, not waiting
    assert [d["name"] for d in (await _refreshed(service, first)).items] == ["after"]

    second = await service.list(TaskQuery())
    await rename_elsewhere(frozen_ctx, task.id, "later")
    frozen_ctx.bus.deliver_local([Event(RUN_UPDATED, {"run_id": 2, "task_id": task.id})])
    clock.advance(RUN_LAG_SECONDS + 0.1)
    page = await service.list(TaskQuery())  # too old to trail: loaded after the caller asked
    assert page is not second
    assert [d["name"] for d in page.items] == ["later"]


async def test_a_page_too_old_to_trail_is_answered_by_the_refresh_already_running(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    """Run events keep arriving while a refresh runs: a caller that finds the page too old to trail
    shares that refresh (begun after the last task change) instead of waiting for a second one."""
    service = TaskService(frozen_ctx)
    loads: list[TaskQuery] = []
    load_page = service._load_page

    async def counted(query: TaskQuery, version: int) -> Any:
        loads.append(query)
        return await load_page(query, version)

    service._load_page = counted  # type: ignore[method-assign]
    task = await make_task(name="before")
    first = await service.list(TaskQuery())
    await rename_elsewhere(frozen_ctx, task.id, "after")  # stands for what the runs changed
    frozen_ctx.bus.deliver_local([Event(RUN_UPDATED, {"run_id": 1, "task_id": task.id})])
    clock.advance(RUN_LAG_SECONDS - 0.1)
    assert await service.list(TaskQuery()) is first  # trailing, and the refresh has begun
    frozen_ctx.bus.deliver_local([Event(RUN_UPDATED, {"run_id": 2, "task_id": task.id})])
    clock.advance(0.2)  # the page is now too old to trail; the refresh has not ended
    page = await service.list(TaskQuery())
    assert [d["name"] for d in page.items] == ["after"]
    assert len(loads) == 2  # the first page and the one refresh, which the late caller shared


async def test_a_page_never_trails_a_task_event(frozen_ctx: Context, make_task: Any) -> None:
    service = TaskService(frozen_ctx)
    task = await make_task(name="before")
    await service.list(TaskQuery())
    await rename_elsewhere(frozen_ctx, task.id, "after")
    frozen_ctx.bus.deliver_local([Event(TASK_UPDATED, {"task_id": task.id})])
    assert [d["name"] for d in (await service.list(TaskQuery())).items] == ["after"]
