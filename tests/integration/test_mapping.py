"""The fast list path (task documents built from rows) must equal the models' own JSON."""

from __future__ import annotations

from typing import Any

import pytest

from tasksched.clock import FrozenClock
from tasksched.services.context import Context
from tasksched.services.firing import FiringService
from tasksched.services.tasks import TaskQuery, TaskService
from tasksched.store.mapping import TaskView

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
    docs, _ = await TaskService(frozen_ctx).list(TaskQuery())
    (doc,) = [d for d in docs if d["id"] == task.id]
    assert TaskView.model_validate(doc).model_dump(mode="json") == doc
    assert doc == (await TaskService(frozen_ctx).get(task.id)).model_dump(mode="json")


async def test_a_change_retires_cached_pages(frozen_ctx: Context, make_task: Any) -> None:
    service = TaskService(frozen_ctx)
    task = await make_task(name="before")
    first, _ = await service.list(TaskQuery())
    again, _ = await service.list(TaskQuery())
    assert again is first  # served from the cache
    from tasksched.domain.tasks import TaskPatch

    await service.patch(task.id, TaskPatch(name="after"))
    fresh, _ = await service.list(TaskQuery())
    assert [d["name"] for d in fresh] == ["after"]
