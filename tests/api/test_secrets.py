"""Secret values (HTTP header values, shell env values) are write-only and kept when sent back masked."""

from __future__ import annotations

import httpx

from tasksched.domain.secrets import MASK
from tasksched.services.context import Context
from tasksched.store import tasks as task_store
from tests.api.conftest import assert_problem, create_task, task_body

HTTP = {
    "type": "http",
    "url": "https://example.com/",
    "headers": {"Authorization": "Bearer s3cret", "X-Plain": "v"},
}


async def stored_action(ctx: Context, task_id: int) -> dict[str, object]:
    async with ctx.db.read() as tx:
        row = await task_store.get(tx, task_id)
    assert row is not None
    action: dict[str, object] = row["action"]
    return action


async def test_values_are_masked_in_every_answer(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, action=HTTP)
    assert task["action"]["headers"] == {"Authorization": MASK, "X-Plain": MASK}
    listed = (await api.get("/api/tasks")).json()["items"][0]
    assert listed["action"]["headers"] == {"Authorization": MASK, "X-Plain": MASK}
    assert (await stored_action(ctx, task["id"]))["headers"] == HTTP["headers"]


async def test_a_task_sent_back_as_read_keeps_its_secrets(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, action=HTTP)
    body = {k: task[k] for k in task_body() if k in task} | {
        "description": "edited",
        "action": task["action"],
    }
    response = await api.put(f"/api/tasks/{task['id']}", json=body)
    assert response.status_code == 200, response.text
    assert (await stored_action(ctx, task["id"]))["headers"] == HTTP["headers"]
    # A new value replaces the stored one; a dropped header is gone.
    patched = await api.patch(
        f"/api/tasks/{task['id']}",
        json={"action": {**HTTP, "headers": {"Authorization": "Bearer n3w", "X-Plain": MASK}}},
    )
    assert patched.status_code == 200, patched.text
    assert (await stored_action(ctx, task["id"]))["headers"] == {
        "Authorization": "Bearer n3w",
        "X-Plain": "v",
    }


async def test_a_mask_with_nothing_stored_is_refused(api: httpx.AsyncClient, ctx: Context) -> None:
    refused = await api.post("/api/tasks", json=task_body(action={**HTTP, "headers": {"X-New": MASK}}))
    assert_problem(refused, 422, field="action.headers.X-New", mentions="stored value")
    assert (await api.get("/api/tasks")).json()["total"] == 0
    task = await create_task(api, action=HTTP)
    refused = await api.patch(
        f"/api/tasks/{task['id']}", json={"action": {**HTTP, "headers": {"Other": MASK}}}
    )
    assert_problem(refused, 422, field="action.headers.Other")
    assert (await stored_action(ctx, task["id"]))["headers"] == HTTP["headers"]
