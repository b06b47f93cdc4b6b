"""The dashboard's figures (/api/stats?bucket=…: bars by minute or hour, late slots, tasks that keep
failing) and the timeline's spans (/api/runs/spans), on SQLite and PostgreSQL with a frozen clock.

Runs are written straight into the store with the times a test needs; no worker runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from tasksched.clock import FrozenClock
from tasksched.services.context import Context
from tasksched.store import runs as run_store
from tests.api.conftest import MISSING_ID, VIEWER, assert_problem, create_task, send_without_auth

NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00")  # the frozen clock's start (tests/conftest.py)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def add_run(
    ctx: Context,
    task: dict[str, Any],
    *,
    status: str,
    ready: datetime,
    started: datetime | None = None,
    finished: datetime | None = None,
    attempt: int = 1,
    error: str | None = None,
    slot: datetime | None = None,
) -> int:
    row = {
        "task_id": task["id"],
        "task_name": task["name"],
        "trigger": "schedule",
        "scheduled_for": slot or ready,
        "attempt": attempt,
        "status": status,
        "queue": "default",
        "priority": 0,
        "queued_at": ready,
        "available_at": ready,
        "started_at": started,
        "finished_at": finished,
        "duration_ms": int((finished - started).total_seconds() * 1000) if finished and started else None,
        "error": error,
    }
    async with ctx.db.write() as tx:
        [inserted] = await run_store.insert(tx, [row])
    return int(inserted["id"])


async def finished_run(ctx: Context, task: dict[str, Any], status: str, finished: datetime, **kw: Any) -> int:
    return await add_run(
        ctx, task, status=status, ready=finished - timedelta(seconds=5), started=finished - timedelta(seconds=3),
        finished=finished, **kw,
    )  # fmt: skip


# --- chart buckets ------------------------------------------------------------------------------


async def test_stats_bars_by_minute_cover_the_last_hour(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context
) -> None:
    task = await create_task(frozen_api, "minutely")
    await finished_run(frozen_ctx, task, "succeeded", NOW - timedelta(seconds=10))  # this minute
    await finished_run(frozen_ctx, task, "failed", NOW - timedelta(seconds=30))
    await finished_run(frozen_ctx, task, "succeeded", NOW - timedelta(minutes=5, seconds=1))
    await finished_run(frozen_ctx, task, "timed_out", NOW - timedelta(minutes=59, seconds=50))  # first bar
    await finished_run(frozen_ctx, task, "succeeded", NOW - timedelta(minutes=61))  # before the chart

    response = await frozen_api.get("/api/stats", params={"bucket": "minute"}, headers=VIEWER)
    assert response.status_code == 200, response.text
    chart = response.json()["chart"]

    assert chart["bucket"] == "minute"
    assert chart["seconds"] == 60
    bars = chart["buckets"]
    assert len(bars) == 60
    assert datetime.fromisoformat(bars[0]["start"]) == NOW - timedelta(minutes=59)
    assert datetime.fromisoformat(bars[-1]["start"]) == NOW
    assert datetime.fromisoformat(bars[-1]["end"]) == NOW + timedelta(minutes=1)
    assert datetime.fromisoformat(chart["since"]) == NOW - timedelta(minutes=59)
    # 11:59:30 and 11:59:50 finish in the bar of 11:59; 11:54:59 in the bar of 11:54.
    assert (bars[-2]["succeeded"], bars[-2]["failed"]) == (1, 1)
    assert bars[-7]["succeeded"] == 1
    assert bars[0]["timed_out"] == 0  # 11:00:10 is in the bar of 11:00 (the chart starts at 11:01)
    assert sum(b["succeeded"] + b["failed"] + b["timed_out"] for b in bars) == 3
    assert set(bars[0]) == {"start", "end", "succeeded", "failed", "timed_out", "cancelled", "skipped"}


async def test_stats_bars_by_hour_are_the_default_and_cover_a_day(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context
) -> None:
    task = await create_task(frozen_api, "hourly")
    await finished_run(frozen_ctx, task, "succeeded", NOW - timedelta(minutes=10))
    await finished_run(frozen_ctx, task, "skipped", NOW - timedelta(hours=3, minutes=10))
    await finished_run(frozen_ctx, task, "failed", NOW - timedelta(hours=30))

    stats = (await frozen_api.get("/api/stats")).json()
    chart = stats["chart"]
    assert (chart["bucket"], chart["seconds"], len(chart["buckets"])) == ("hour", 3600, 24)
    bars = chart["buckets"]
    assert datetime.fromisoformat(bars[-1]["start"]) == NOW  # the hour under way
    assert datetime.fromisoformat(bars[-2]["start"]) == NOW - timedelta(hours=1)  # 11:00, the hour of 11:50
    assert bars[-2]["succeeded"] == 1
    assert bars[-5]["skipped"] == 1
    assert sum(b["failed"] for b in bars) == 0
    # The older field stays as it was.
    assert [b["succeeded"] for b in stats["runs_per_hour"]] == [b["succeeded"] for b in bars]


async def test_the_day_and_hour_totals_count_each_window_once(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context
) -> None:
    # The day's totals are added up from the hourly bars (and the status page's hour from its minute
    # bars): runs at the windows' edges count in one window or the other, never in both or neither.
    task = await create_task(frozen_api, "totals")
    await finished_run(frozen_ctx, task, "succeeded", NOW - timedelta(minutes=10))
    await finished_run(frozen_ctx, task, "failed", NOW - timedelta(minutes=59, seconds=59))
    await finished_run(frozen_ctx, task, "succeeded", NOW - timedelta(hours=1, seconds=1))
    await finished_run(frozen_ctx, task, "timed_out", NOW - timedelta(hours=5))
    await finished_run(frozen_ctx, task, "skipped", NOW - timedelta(hours=23, minutes=59, seconds=59))
    await finished_run(frozen_ctx, task, "failed", NOW - timedelta(hours=24, seconds=1))  # before the day

    stats = (await frozen_api.get("/api/stats")).json()
    assert stats["runs_last_hour"] == {"succeeded": 1, "failed": 1}
    assert stats["runs_last_day"] == {"succeeded": 2, "failed": 1, "timed_out": 1, "skipped": 1}
    assert stats["success_rate_last_day"] == 0.5  # 2 of 4: skipped runs have no outcome
    status = (await frozen_api.get("/api/status")).json()
    assert status["last_hour"] == {"finished": 2, "succeeded": 1, "failed": 1}
    assert status["last_day"] == {"finished": 5, "succeeded": 2, "failed": 2}


async def test_stats_refuse_an_unknown_bucket(api: httpx.AsyncClient) -> None:
    for bad in ("second", "day", "", "MINUTE"):
        assert_problem(await api.get("/api/stats", params={"bucket": bad}), 422)


# --- late slots ---------------------------------------------------------------------------------


async def test_late_slots_count_unfired_and_unclaimed_slots(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context, clock: FrozenClock
) -> None:
    on_time = await create_task(frozen_api, "on-time", schedule={"type": "interval", "seconds": 3600})
    late = await create_task(frozen_api, "late", schedule={"type": "interval", "seconds": 60})
    paused = await create_task(
        frozen_api, "paused", schedule={"type": "interval", "seconds": 60}, enabled=False
    )
    due = datetime.fromisoformat(late["next_run_at"])
    # A run queued and claimable for 30 s that no worker took; one whose time has not come.
    await add_run(frozen_ctx, on_time, status="queued", ready=due + timedelta(seconds=10))
    await add_run(frozen_ctx, paused, status="queued", ready=due + timedelta(seconds=100))

    clock.set(due + timedelta(seconds=40))
    stats = (await frozen_api.get("/api/stats")).json()

    assert stats["late"] == {
        "total": 2,
        "unfired": 1,
        "waiting": 1,
        "oldest_due_at": stats["late"]["oldest_due_at"],
    }
    assert datetime.fromisoformat(stats["late"]["oldest_due_at"]) == due
    assert datetime.fromisoformat(stats["now"]) == due + timedelta(seconds=40)
    first = stats["next_due"][0]
    assert first["task_name"] == "late"
    assert datetime.fromisoformat(first["next_run_at"]) == due


async def test_no_late_slots_when_everything_is_on_time(frozen_api: httpx.AsyncClient) -> None:
    await create_task(frozen_api, "later", schedule={"type": "interval", "seconds": 3600})
    stats = (await frozen_api.get("/api/stats")).json()
    assert stats["late"] == {"total": 0, "unfired": 0, "waiting": 0, "oldest_due_at": None}


# --- tasks that keep failing --------------------------------------------------------------------


async def test_failing_tasks_are_grouped_with_their_last_error(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context
) -> None:
    flaky = await create_task(frozen_api, "flaky")
    broken = await create_task(frozen_api, "broken")
    slow = await create_task(frozen_api, "slow")
    fine = await create_task(frozen_api, "fine")
    for minutes, error in ((50, "connection refused"), (30, "HTTP 500"), (5, "HTTP 502 from upstream")):
        await finished_run(frozen_ctx, broken, "failed", NOW - timedelta(minutes=minutes), error=error)
    await finished_run(frozen_ctx, flaky, "failed", NOW - timedelta(hours=3), error="flaked")
    await finished_run(frozen_ctx, flaky, "succeeded", NOW - timedelta(hours=2))
    await finished_run(
        frozen_ctx, slow, "timed_out", NOW - timedelta(minutes=20), error="timed out after 30 s"
    )
    await finished_run(frozen_ctx, slow, "failed", NOW - timedelta(hours=2), error="older")
    await finished_run(frozen_ctx, fine, "succeeded", NOW - timedelta(minutes=2))
    await finished_run(frozen_ctx, fine, "failed", NOW - timedelta(days=2), error="long ago")

    by_day = (await frozen_api.get("/api/stats")).json()["failing_tasks"]
    assert [(t["task_name"], t["failures"], t["finished"]) for t in by_day] == [
        ("broken", 3, 3),
        ("slow", 2, 2),
        ("flaky", 1, 2),
    ]
    top = by_day[0]
    assert top["task_id"] == broken["id"]
    assert top["last_error"] == "HTTP 502 from upstream"
    assert top["last_status"] == "failed"
    assert datetime.fromisoformat(top["last_failed_at"]) == NOW - timedelta(minutes=5)
    assert by_day[1]["last_status"] == "timed_out"
    assert by_day[1]["last_error"] == "timed out after 30 s"

    # By minute, the window is the last hour.
    by_hour = (await frozen_api.get("/api/stats", params={"bucket": "minute"})).json()["failing_tasks"]
    assert [(t["task_name"], t["failures"]) for t in by_hour] == [("broken", 3), ("slow", 1)]


async def test_a_bars_runs_are_what_the_list_returns_for_its_finished_range(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context
) -> None:
    """The bars count runs by when they finished: `finished_from`/`finished_to` list the same runs,
    also a retry whose slot was long before (its `scheduled_for` is outside the bar)."""
    task = await create_task(frozen_api, "bars")
    inside = await finished_run(frozen_ctx, task, "failed", NOW - timedelta(minutes=5, seconds=30))
    # A retry keeps its slot's time, two hours before it ran.
    retry = await add_run(
        frozen_ctx, task, status="failed", ready=NOW - timedelta(minutes=5, seconds=50),
        started=NOW - timedelta(minutes=5, seconds=45), finished=NOW - timedelta(minutes=5, seconds=10),
        attempt=2, slot=NOW - timedelta(hours=2),
    )  # fmt: skip
    await finished_run(frozen_ctx, task, "failed", NOW - timedelta(minutes=4, seconds=50))  # the next bar

    chart = (await frozen_api.get("/api/stats", params={"bucket": "minute"}, headers=VIEWER)).json()["chart"]
    bar = next(b for b in chart["buckets"] if b["start"].startswith("2026-06-01T11:54:00"))
    assert bar["failed"] == 2
    params = {"finished_from": bar["start"], "finished_to": bar["end"], "status": "failed"}
    listed = (await frozen_api.get("/api/runs", params=params, headers=VIEWER)).json()
    assert {r["id"] for r in listed["items"]} == {inside, retry}
    # By the slot's time, the retry would be missed.
    by_slot = {"scheduled_from": bar["start"], "scheduled_to": bar["end"], "status": "failed"}
    assert {
        r["id"] for r in (await frozen_api.get("/api/runs", params=by_slot, headers=VIEWER)).json()["items"]
    } == {inside}
    bad = {"finished_from": bar["end"], "finished_to": bar["start"]}
    assert_problem(
        await frozen_api.get("/api/runs", params=bad, headers=VIEWER), 422, mentions="finished_from"
    )


# --- spans --------------------------------------------------------------------------------------


async def spans(api: httpx.AsyncClient, start: datetime, end: datetime, **params: Any) -> httpx.Response:
    return await api.get(
        "/api/runs/spans", params={"from": start.isoformat(), "to": end.isoformat(), **params}, headers=VIEWER
    )


async def test_spans_are_the_runs_overlapping_the_window_as_arrays(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context
) -> None:
    a = await create_task(frozen_api, "alpha", retry={"max_attempts": 4})
    b = await create_task(frozen_api, "beta", retry={"max_attempts": 1})
    start, end = NOW - timedelta(hours=1), NOW
    t = start + timedelta(minutes=10)
    inside = await add_run(
        frozen_ctx,
        a,
        status="failed",
        ready=t,
        started=t + timedelta(seconds=4),
        finished=t + timedelta(seconds=64),
    )
    retry = await add_run(
        frozen_ctx, a, status="succeeded", ready=t + timedelta(minutes=1), started=t + timedelta(minutes=1, seconds=1),
        finished=t + timedelta(minutes=2), attempt=2,
    )  # fmt: skip
    # Began before the window, ended inside: drawn clipped.
    across = await add_run(
        frozen_ctx, b, status="succeeded", ready=start - timedelta(minutes=5), started=start - timedelta(minutes=5),
        finished=start + timedelta(minutes=1),
    )  # fmt: skip
    running = await add_run(
        frozen_ctx, b, status="running", ready=NOW - timedelta(minutes=2), started=NOW - timedelta(minutes=2)
    )
    queued = await add_run(frozen_ctx, a, status="queued", ready=NOW - timedelta(seconds=20))
    # Outside: finished before the window; queued after it.
    await add_run(
        frozen_ctx, a, status="succeeded", ready=start - timedelta(minutes=9), started=start - timedelta(minutes=9),
        finished=start - timedelta(minutes=8),
    )  # fmt: skip
    await add_run(frozen_ctx, b, status="queued", ready=end + timedelta(minutes=5))

    response = await spans(frozen_api, start, end)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["truncated"] is False
    assert body["limit"] == 20_000
    assert datetime.fromisoformat(body["from"]) == start
    assert datetime.fromisoformat(body["to"]) == end
    # Each task with the attempts its policy plans: the timeline says "attempt 2 of 4".
    assert body["tasks"] == [
        {"id": a["id"], "name": "alpha", "max_attempts": 4},
        {"id": b["id"], "name": "beta", "max_attempts": 1},
    ]
    # Ordered by when each run could start.
    assert body["id"] == [across, inside, retry, running, queued]
    keys = ("id", "task_id", "attempt", "status", "ready", "started", "finished")
    assert all(len(body[k]) == 5 for k in keys)
    row = {k: body[k][1] for k in keys}
    assert row == {
        "id": inside,
        "task_id": a["id"],
        "attempt": 1,
        "status": "failed",
        "ready": _ms(t),
        "started": _ms(t + timedelta(seconds=4)),
        "finished": _ms(t + timedelta(seconds=64)),
    }
    assert body["attempt"][2] == 2
    assert (body["status"][3], body["finished"][3]) == ("running", None)
    assert (body["status"][4], body["started"][4], body["finished"][4]) == ("queued", None, None)

    only_b = (await spans(frozen_api, start, end, task_id=b["id"])).json()
    assert only_b["id"] == [across, running]
    assert only_b["tasks"] == [{"id": b["id"], "name": "beta", "max_attempts": 1}]


async def test_spans_are_capped_keeping_the_latest(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context
) -> None:
    task = await create_task(frozen_api, "many")
    ids = [
        await finished_run(frozen_ctx, task, "succeeded", NOW - timedelta(minutes=50 - i)) for i in range(6)
    ]
    body = (await spans(frozen_api, NOW - timedelta(hours=1), NOW, limit=4)).json()
    assert body["truncated"] is True
    assert body["limit"] == 4
    assert body["id"] == ids[2:]
    whole = (await spans(frozen_api, NOW - timedelta(hours=1), NOW, limit=6)).json()
    assert (whole["truncated"], whole["id"]) == (False, ids)


async def test_spans_refuse_bad_windows_and_unknown_tasks(frozen_api: httpx.AsyncClient) -> None:
    assert_problem(await spans(frozen_api, NOW, NOW), 422)
    assert_problem(await spans(frozen_api, NOW, NOW - timedelta(hours=1)), 422)
    assert_problem(await spans(frozen_api, NOW - timedelta(days=8, seconds=1), NOW), 422)
    assert (await spans(frozen_api, NOW - timedelta(days=8), NOW)).status_code == 200
    assert_problem(await spans(frozen_api, NOW - timedelta(hours=1), NOW, limit=0), 422)
    assert_problem(await spans(frozen_api, NOW - timedelta(hours=1), NOW, limit=50_001), 422)
    assert_problem(await spans(frozen_api, NOW - timedelta(hours=1), NOW, task_id=MISSING_ID), 404)
    missing = await frozen_api.get("/api/runs/spans", params={"to": NOW.isoformat()})
    assert_problem(missing, 422)
    unzoned = await frozen_api.get(
        "/api/runs/spans", params={"from": "2026-06-01T10:00:00", "to": NOW.isoformat()}
    )
    assert_problem(unzoned, 422)
    assert_problem(await send_without_auth(frozen_api, "GET", "/api/runs/spans"), 401)
