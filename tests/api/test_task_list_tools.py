"""The task list's tools: tag suggestions (GET /api/tags), filtering by several tags, paused tasks
last by next run, and bulk actions on tasks named or matching a filter (POST /api/tasks:bulk)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tasksched.clock import FrozenClock
from tasksched.services import task_bulk
from tasksched.services.context import Context
from tasksched.store import tasks as task_store
from tests.api.conftest import ADMIN, OPERATOR, VIEWER, assert_problem, create_task
from tests.store.rows import make_task_values

# -- tag suggestions ------------------------------------------------------------------------------


async def test_tags_are_suggested_most_used_first_with_their_counts(api: httpx.AsyncClient) -> None:
    await create_task(api, "a", tags=["ops", "nightly", "Billing"])
    await create_task(api, "b", tags=["ops", "billing-eu"])
    await create_task(api, "c", tags=["ops", "nightly"])
    await create_task(api, "d")

    everything = await api.get("/api/tags", headers=VIEWER)
    assert everything.status_code == 200, everything.text
    assert everything.json() == [
        {"tag": "ops", "tasks": 3},
        {"tag": "nightly", "tasks": 2},
        {"tag": "Billing", "tasks": 1},  # then by name (upper case first, as the databases compare)
        {"tag": "billing-eu", "tasks": 1},
    ]
    # A prefix in any case; the limit keeps the most used.
    assert [t["tag"] for t in (await api.get("/api/tags?q=BIL")).json()] == ["Billing", "billing-eu"]
    assert (await api.get("/api/tags?q=n")).json() == [{"tag": "nightly", "tasks": 2}]
    assert (await api.get("/api/tags?limit=1")).json() == [{"tag": "ops", "tasks": 3}]
    assert (await api.get("/api/tags?q=zzz")).json() == []


async def test_a_tag_prefix_is_text_not_a_pattern(api: httpx.AsyncClient) -> None:
    await create_task(api, "a", tags=["a_b", "axb", "a.c"])
    assert [t["tag"] for t in (await api.get("/api/tags", params={"q": "a_"})).json()] == ["a_b"]
    assert (await api.get("/api/tags", params={"q": "%"})).json() == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"q": "x" * 65}, "q"), ({"q": "a\x00"}, "q")],
)
async def test_tags_refuse_bad_parameters(api: httpx.AsyncClient, params: dict[str, Any], field: str) -> None:
    assert_problem(await api.get("/api/tags", params=params), 422, field=field)


async def test_the_list_filters_by_every_tag_given(api: httpx.AsyncClient) -> None:
    await create_task(api, "a", tags=["ops", "nightly"])
    await create_task(api, "b", tags=["ops"])
    await create_task(api, "c", tags=["nightly", "billing"])
    both = (await api.get("/api/tasks?tag=ops&tag=nightly")).json()
    assert ([t["name"] for t in both["items"]], both["total"]) == (["a"], 1)
    assert (await api.get("/api/tasks?tag=ops&tag=billing")).json()["total"] == 0
    assert (await api.get("/api/tasks?tag=ops&tag=ops")).json()["total"] == 2


# -- paused tasks last by next run ----------------------------------------------------------------


async def test_paused_tasks_come_last_by_next_run_either_way(frozen_api: httpx.AsyncClient) -> None:
    every = {"type": "interval", "seconds": 60}
    # Paused tasks keep their slot (the earliest here): the list still puts them after every
    # enabled task, by name among themselves.
    await create_task(frozen_api, "z-paused", schedule={"type": "interval", "seconds": 30}, enabled=False)
    await create_task(frozen_api, "a-paused", schedule={"type": "interval", "seconds": 7200}, enabled=False)
    await create_task(frozen_api, "minutely-b", schedule=every)
    await create_task(frozen_api, "minutely-a", schedule=every)
    await create_task(frozen_api, "hourly", schedule={"type": "interval", "seconds": 3600})
    await create_task(frozen_api, "manual")

    def names(response: httpx.Response) -> list[str]:
        return [t["name"] for t in response.json()["items"]]

    soonest = await frozen_api.get("/api/tasks?sort=next_run_at")
    assert names(soonest) == ["minutely-a", "minutely-b", "hourly", "manual", "a-paused", "z-paused"]
    latest = await frozen_api.get("/api/tasks?sort=-next_run_at")
    assert names(latest) == ["hourly", "minutely-a", "minutely-b", "manual", "a-paused", "z-paused"]
    # Paged, the same order without overlap.
    pages = [await frozen_api.get(f"/api/tasks?sort=next_run_at&limit=4&offset={o}") for o in (0, 4)]
    assert [n for p in pages for n in names(p)] == names(soonest)


# -- bulk actions ---------------------------------------------------------------------------------


async def _add_tasks(ctx: Context, count: int, **fields: Any) -> list[int]:
    async with ctx.db.write() as tx:
        return await task_store.insert_many(
            tx, [make_task_values(name=f"bulk-{i:04d}", **fields) for i in range(count)]
        )


async def _audit(api: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await api.get("/api/audit", params={"action": action}, headers=ADMIN)
    ).json()["items"]
    return items


async def test_pause_all_matching_reaches_past_the_first_page(api: httpx.AsyncClient, ctx: Context) -> None:
    ids = await _add_tasks(ctx, 120, tags=["fleet"])
    await create_task(api, "other", tags=["elsewhere"])
    already = ids[5]
    assert (await api.post(f"/api/tasks/{already}/pause", headers=OPERATOR)).status_code == 200

    response = await api.post(
        "/api/tasks:bulk", json={"action": "pause", "filter": {"tag": ["fleet"]}}, headers=OPERATOR
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["matched"] == 120
    assert body["done"] == sorted(set(ids) - {already})
    assert body["unchanged"] == [already]
    paused = (await api.get("/api/tasks", params={"enabled": "false", "limit": 500})).json()
    assert paused["total"] == 120
    assert {t["version"] for t in paused["items"]} == {2}
    assert (await api.get("/api/tasks", params={"name": "other"})).json()["items"][0]["enabled"] is True

    [row] = await _audit(api, "tasks.pause")
    assert row["target"] == {"type": "tasks", "id": None, "name": "119 tasks paused"}
    assert row["actor"]["name"] == "operator"
    assert row["after"]["filter"]["tags"] == ["fleet"]
    assert row["after"]["done"] == body["done"]


async def test_resume_by_ids_takes_the_next_slot_and_records_what_was_skipped(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    every = {"type": "interval", "seconds": 60}
    a = await create_task(frozen_api, "a", schedule=every, enabled=False)
    b = await create_task(frozen_api, "b", schedule=every)
    await frozen_api.post(f"/api/tasks/{b['id']}/pause")
    clock.advance(5 * 60 + 10)

    response = await frozen_api.post(
        "/api/tasks:bulk", json={"action": "resume", "task_ids": [b["id"], a["id"]]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["done"] == sorted([a["id"], b["id"]])
    resumed = (await frozen_api.get(f"/api/tasks/{b['id']}")).json()
    assert (resumed["enabled"], resumed["next_run_at"], resumed["version"]) == (
        True,
        "2026-06-01T12:06:00Z",
        3,
    )
    runs = (await frozen_api.get(f"/api/tasks/{b['id']}/runs")).json()["items"]
    assert [(r["status"], r["reason"][:17]) for r in runs] == [("skipped", "paused: 5 slot(s)")]


async def test_run_now_in_bulk_queues_one_manual_run_per_task(api: httpx.AsyncClient, ctx: Context) -> None:
    ids = await _add_tasks(ctx, 60, enabled=False)
    response = await api.post("/api/tasks:bulk", json={"action": "run", "filter": {"enabled": False}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["done"] == ids
    assert len(set(body["run_ids"])) == 60
    runs = (await api.get("/api/runs", params={"limit": 100})).json()
    assert runs["total"] == 60
    assert {(r["trigger"], r["status"]) for r in runs["items"]} == {("manual", "queued")}


async def test_delete_in_bulk_needs_an_admin(api: httpx.AsyncClient, ctx: Context) -> None:
    ids = await _add_tasks(ctx, 3)
    keep = await create_task(api, "keep", description="not this one")
    request = {"action": "delete", "filter": {"q": "bulk-"}}
    assert_problem(await api.post("/api/tasks:bulk", json=request, headers=OPERATOR), 403, mentions="admin")
    assert_problem(
        await api.post("/api/tasks:bulk", json={"action": "pause", "task_ids": ids}, headers=VIEWER), 403
    )
    assert (await api.get("/api/tasks")).json()["total"] == 4

    response = await api.post("/api/tasks:bulk", json=request, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["done"] == ids
    assert [t["id"] for t in (await api.get("/api/tasks")).json()["items"]] == [keep["id"]]
    [row] = await _audit(api, "tasks.delete")
    assert row["target"]["name"] == "3 tasks deleted"
    assert [t["id"] for t in row["before"]["tasks"]] == ids


@pytest.mark.parametrize(
    ("body", "field", "mentions"),
    [
        ({"action": "pause"}, "body", "either"),
        ({"action": "pause", "task_ids": [1], "filter": {}}, "body", "either"),
        ({"action": "explode", "task_ids": [1]}, "action", None),
        ({"action": "pause", "task_ids": [0]}, "task_ids.0", None),
        ({"action": "pause", "filter": {"tag": ["no spaces"]}}, "filter.tag.0", None),
        ({"action": "pause", "filter": {"colour": "red"}}, "filter.colour", None),
        ({"action": "pause", "task_ids": "1"}, "task_ids", None),
    ],
)
async def test_bulk_refuses_bad_input_naming_it(
    api: httpx.AsyncClient, body: dict[str, Any], field: str, mentions: str | None
) -> None:
    await create_task(api, "untouched")
    assert_problem(await api.post("/api/tasks:bulk", json=body), 422, field=field, mentions=mentions)
    assert (await api.get("/api/tasks")).json()["items"][0]["enabled"] is True


async def test_bulk_refuses_an_unknown_id_and_changes_nothing(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "known")
    response = await api.post("/api/tasks:bulk", json={"action": "pause", "task_ids": [task["id"], 987_654]})
    assert_problem(response, 422, field="task_ids.1", mentions="987654")
    assert (await api.get(f"/api/tasks/{task['id']}")).json()["enabled"] is True
    assert await _audit(api, "tasks.pause") == []


async def test_bulk_refuses_a_filter_matching_too_many(
    api: httpx.AsyncClient, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_bulk, "MAX_BULK_TASKS", 5)
    ids = await _add_tasks(ctx, 6)
    response = await api.post("/api/tasks:bulk", json={"action": "pause", "filter": {}})
    assert_problem(response, 422, field="filter", mentions="narrow the filter")
    assert (await api.get("/api/tasks", params={"enabled": "false"})).json()["total"] == 0
    # Five are allowed: a narrower filter goes through.
    await api.post(f"/api/tasks/{ids[0]}/pause")
    done = await api.post("/api/tasks:bulk", json={"action": "pause", "filter": {"enabled": True}})
    assert done.status_code == 200, done.text
    assert done.json()["done"] == ids[1:]
