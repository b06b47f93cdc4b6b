"""GET /api/schedules/upcoming (what every enabled task will fire in a window) and
GET /api/tasks/{id}/preview (one task's next fire times). The clock is frozen at 2026-06-01 12:00 UTC."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tasksched.clock import FrozenClock
from tests.api.conftest import MISSING_ID, VIEWER, assert_problem, create_task

UPCOMING = "/api/schedules/upcoming"


async def upcoming(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get(UPCOMING, params=params, headers=VIEWER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_upcoming_merges_the_slots_of_every_enabled_task(frozen_api: httpx.AsyncClient) -> None:
    daily = await create_task(
        frozen_api,
        "daily",
        schedule={"type": "cron", "expression": "30 9 * * *", "timezone": "Europe/Berlin"},
    )
    hourly = await create_task(frozen_api, "hourly", schedule={"type": "interval", "seconds": 6 * 3600})
    paused = await create_task(
        frozen_api, "paused", enabled=False, schedule={"type": "interval", "seconds": 60}
    )
    await create_task(frozen_api, "manual")

    body = await upcoming(frozen_api, **{"from": "2026-06-01T12:00:00Z", "to": "2026-06-03T00:00:00Z"})

    assert body["start"] == "2026-06-01T12:00:00Z"
    assert body["end"] == "2026-06-03T00:00:00Z"
    assert body["truncated"] is False
    assert [(item["task_name"], item["at"]) for item in body["items"]] == [
        ("hourly", "2026-06-01T18:00:00Z"),
        ("hourly", "2026-06-02T00:00:00Z"),
        ("hourly", "2026-06-02T06:00:00Z"),
        ("daily", "2026-06-02T07:30:00Z"),
        ("hourly", "2026-06-02T12:00:00Z"),
        ("hourly", "2026-06-02T18:00:00Z"),
    ]
    first_daily = body["items"][3]
    assert first_daily == {
        "task_id": daily["id"],
        "task_name": "daily",
        "at": "2026-06-02T07:30:00Z",
        "local": "2026-06-02T09:30:00+02:00",
        "timezone": "Europe/Berlin",
    }
    assert body["items"][0]["timezone"] == "UTC"
    assert {item["task_id"] for item in body["items"]} == {daily["id"], hourly["id"]}
    assert paused["id"] not in {item["task_id"] for item in body["items"]}


async def test_the_window_includes_from_and_excludes_to(frozen_api: httpx.AsyncClient) -> None:
    await create_task(frozen_api, "six", schedule={"type": "cron", "expression": "0 */6 * * *"})
    body = await upcoming(frozen_api, **{"from": "2026-06-02T00:00:00Z", "to": "2026-06-02T12:00:00Z"})
    assert [item["at"] for item in body["items"]] == ["2026-06-02T00:00:00Z", "2026-06-02T06:00:00Z"]


async def test_defaults_are_the_next_day_from_now(frozen_api: httpx.AsyncClient) -> None:
    await create_task(frozen_api, "noon", schedule={"type": "cron", "expression": "0 12 * * *"})
    body = await upcoming(frozen_api)
    assert (body["start"], body["end"]) == ("2026-06-01T12:00:00Z", "2026-06-02T12:00:00Z")
    # Today's noon slot is the task's next (created at noon, it is strictly after): tomorrow's is excluded.
    assert [item["at"] for item in body["items"]] == []


async def test_slots_before_a_tasks_next_run_are_not_upcoming(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    """A window starting in the past shows what is still ahead of each task, not what has fired."""
    await create_task(frozen_api, "quarter", schedule={"type": "cron", "expression": "*/15 * * * *"})
    body = await upcoming(frozen_api, **{"from": "2026-06-01T11:00:00Z", "to": "2026-06-01T13:00:00Z"})
    assert [item["at"][11:16] for item in body["items"]] == ["12:15", "12:30", "12:45"]


async def test_the_limit_truncates_and_says_so(frozen_api: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):
        await create_task(frozen_api, name, schedule={"type": "interval", "seconds": 60})
    body = await upcoming(frozen_api, limit=7)
    assert len(body["items"]) == 7
    assert body["truncated"] is True
    # Soonest first, ties in task order.
    assert [item["task_name"] for item in body["items"]] == ["a", "b", "c", "a", "b", "c", "a"]
    exact = await upcoming(frozen_api, to="2026-06-01T12:03:00Z", limit=6)
    assert (len(exact["items"]), exact["truncated"]) == (6, False)


async def test_upcoming_filters_by_tag(frozen_api: httpx.AsyncClient) -> None:
    await create_task(frozen_api, "tagged", tags=["billing"], schedule={"type": "interval", "seconds": 3600})
    await create_task(frozen_api, "other", schedule={"type": "interval", "seconds": 3600})
    body = await upcoming(frozen_api, tag="billing")
    assert {item["task_name"] for item in body["items"]} == {"tagged"}


async def test_a_zone_with_dst_gives_local_times_with_their_offset(frozen_api: httpx.AsyncClient) -> None:
    await create_task(
        frozen_api,
        "ny",
        schedule={"type": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"},
    )
    body = await upcoming(frozen_api, **{"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:00Z"})
    assert [item["local"] for item in body["items"]] == [
        "2026-11-01T02:30:00-05:00",
        "2026-11-02T02:30:00-05:00",
    ]


@pytest.mark.parametrize(
    ("params", "field", "mentions"),
    [
        ({"from": "2026-06-01T00:00:00Z", "to": "2026-06-09T00:00:01Z"}, "to", "at most 8 days"),
        ({"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "to", "after `from`"),
        ({"from": "2026-06-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "to", "after `from`"),
        ({"from": "1700000000"}, "from", "ISO 8601"),
        ({"to": "2026-06-02T00:00:00"}, "to", None),
        ({"limit": "0"}, "limit", None),
        ({"limit": "5001"}, "limit", None),
    ],
)
async def test_bad_windows_are_refused_by_name(
    frozen_api: httpx.AsyncClient, params: dict[str, str], field: str, mentions: str | None
) -> None:
    response = await frozen_api.get(UPCOMING, params=params)
    assert_problem(response, 422, field=field, mentions=mentions)


async def test_a_window_of_exactly_8_days_is_allowed(frozen_api: httpx.AsyncClient) -> None:
    body = await upcoming(frozen_api, **{"from": "2026-06-01T00:00:00Z", "to": "2026-06-09T00:00:00Z"})
    assert body["items"] == []


# --- one task's next fire times -------------------------------------------------------------------


async def test_task_preview_counts_an_interval_from_when_it_was_set(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    task = await create_task(frozen_api, "every-90", schedule={"type": "interval", "seconds": 90})
    clock.advance(100)  # 12:01:40: the schedule's slots are 12:01:30, 12:03:00, ...
    response = await frozen_api.get(f"/api/tasks/{task['id']}/preview", params={"count": 3}, headers=VIEWER)
    assert response.status_code == 200, response.text
    body = response.json()
    # The 12:01:30 slot has not fired (no scheduler runs here): it is still the next one.
    assert [t["utc"] for t in body["fire_times"]] == [
        "2026-06-01T12:01:30Z",
        "2026-06-01T12:03:00Z",
        "2026-06-01T12:04:30Z",
    ]
    assert body["dst_notes"] == []
    assert body["description"] == "every 1 minute 30 seconds"


async def test_task_preview_of_a_paused_task_starts_from_now(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    task = await create_task(frozen_api, "paused", schedule={"type": "interval", "seconds": 600})
    assert (await frozen_api.post(f"/api/tasks/{task['id']}/pause")).status_code == 200
    clock.advance(3600 + 60)  # 13:01: the stored next slot (12:10) is long past
    body = (await frozen_api.get(f"/api/tasks/{task['id']}/preview", params={"count": 2})).json()
    assert [t["utc"] for t in body["fire_times"]] == ["2026-06-01T13:10:00Z", "2026-06-01T13:20:00Z"]


async def test_task_preview_of_a_cron_task_names_the_years_clock_changes(
    frozen_api: httpx.AsyncClient,
) -> None:
    task = await create_task(
        frozen_api,
        "ny",
        schedule={"type": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"},
    )
    body = (await frozen_api.get(f"/api/tasks/{task['id']}/preview")).json()
    assert len(body["fire_times"]) == 10
    assert body["timezone"] == "America/New_York"
    assert [note[:10] for note in body["dst_notes"]] == ["2026-11-01", "2027-03-14"]
    assert "the 02:30 run happens at 03:00" in body["dst_notes"][1]


async def test_task_preview_without_a_schedule_and_of_a_missing_task(frozen_api: httpx.AsyncClient) -> None:
    task = await create_task(frozen_api, "manual")
    body = (await frozen_api.get(f"/api/tasks/{task['id']}/preview")).json()
    assert body["fire_times"] == []
    assert body["dst_notes"] == []
    assert_problem(await frozen_api.get(f"/api/tasks/{MISSING_ID}/preview"), 404, mentions="does not exist")
    assert_problem(
        await frozen_api.get(f"/api/tasks/{task['id']}/preview", params={"count": 101}), 422, field="count"
    )


async def test_a_truncated_answer_keeps_the_soonest_slots_of_many_tasks(
    frozen_api: httpx.AsyncClient,
) -> None:
    for hour in (20, 14, 18, 16):
        await create_task(
            frozen_api, f"at-{hour}", schedule={"type": "cron", "expression": f"0 {hour} * * *"}
        )
    for name in ("m1", "m2"):
        await create_task(frozen_api, name, schedule={"type": "interval", "seconds": 7200})
    body = await upcoming(frozen_api, limit=4)
    assert [(item["task_name"], item["at"][11:16]) for item in body["items"]] == [
        ("at-14", "14:00"),  # ties in task id order: created first
        ("m1", "14:00"),
        ("m2", "14:00"),
        ("at-16", "16:00"),
    ]
    assert body["truncated"] is True
