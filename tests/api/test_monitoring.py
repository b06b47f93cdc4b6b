"""GET /metrics and GET /api/status: figures from the database at scrape time, per-process counters,
bounded labels, the optional scrape token, and an answer when the database is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tasksched.clock import FrozenClock
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.services.backups import BackupFailed, BackupService
from tasksched.services.context import Context
from tasksched.services.heartbeats import SchedulerHeartbeats
from tasksched.services.workers import WorkerService
from tests.api.conftest import (
    VIEWER,
    assert_problem,
    claim_runs,
    client_on,
    create_task,
    finish_runs,
    run_task,
    send_without_auth,
)
from tests.conftest import add_keys, make_settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(api: httpx.AsyncClient) -> Samples:
    response = await send_without_auth(api, "GET", "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_metrics_read_the_cluster_figures_from_the_database(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context, clock: FrozenClock
) -> None:
    done = await create_task(frozen_api, "done", queue="reports")
    busy = await create_task(frozen_api, "busy", queue="reports")
    waiting = await create_task(frozen_api, "waiting")
    await run_task(frozen_api, done["id"])
    started = clock.now()
    await finish_runs(frozen_ctx, RunStatus.SUCCEEDED)
    clock.advance(60)
    await run_task(frozen_api, busy["id"])
    await claim_runs(frozen_ctx)  # left running
    await run_task(frozen_api, waiting["id"])
    await WorkerService(frozen_ctx).register("w1", ["*"], 8)
    await SchedulerHeartbeats(frozen_ctx, "s1").register()
    clock.advance(20)

    samples = await scrape(frozen_api)

    assert value(samples, "tasksched_database_up") == 1
    assert value(samples, "tasksched_queue_depth", queue="default") == 1
    assert value(samples, "tasksched_queue_depth", queue="reports") == 0  # named by tasks, empty
    assert value(samples, "tasksched_queue_oldest_age_seconds", queue="default") == 20
    assert value(samples, "tasksched_runs_in_progress") == 1
    assert value(samples, "tasksched_workers_alive") == 1
    assert value(samples, "tasksched_worker_slots") == 8
    assert value(samples, "tasksched_schedulers_alive") == 1
    assert (
        value(samples, "tasksched_scheduler_last_tick_timestamp_seconds")
        == (clock.now() - timedelta(seconds=20)).timestamp()
    )
    assert value(samples, "tasksched_task_last_success_timestamp_seconds", task="done") == started.timestamp()
    assert value(samples, "tasksched_task_last_start_timestamp_seconds", task="done") == started.timestamp()
    assert (
        value(samples, "tasksched_task_last_start_timestamp_seconds", task="busy")
        == (started + timedelta(seconds=60)).timestamp()
    )
    assert value(samples, "tasksched_task_last_success_timestamp_seconds", task="busy") is None
    assert value(samples, "tasksched_task_last_start_timestamp_seconds", task="waiting") is None
    assert value(samples, "tasksched_schedule_overdue_seconds") == 0  # no task has a schedule

    # Any name a task may have comes out as the same label value.
    odd = await create_task(frozen_api, 'odd "name" \\ with\\n escapes')
    await run_task(frozen_api, odd["id"])
    await finish_runs(frozen_ctx, RunStatus.SUCCEEDED)
    marks = await scrape(frozen_api)
    assert (
        value(marks, "tasksched_task_last_success_timestamp_seconds", task=odd["name"])
        == clock.now().timestamp()
    )

    # A new process on the same database (a restart) reads the same marks: nothing lives in memory.
    other = Context.open(make_settings(frozen_ctx.settings.database_url), clock=clock)
    try:
        async with client_on(other) as client:
            again = await scrape(client)
    finally:
        await other.close()
    assert value(again, "tasksched_task_last_success_timestamp_seconds", task="done") == started.timestamp()


async def test_a_scheduler_that_stops_ticking_is_no_longer_alive(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context, clock: FrozenClock
) -> None:
    beats = SchedulerHeartbeats(frozen_ctx, "s1")
    await beats.register()
    clock.advance(10)
    await beats.beat()
    last = clock.now()
    clock.advance(31)  # past the 30 s within which a ticking scheduler beats
    samples = await scrape(frozen_api)
    assert value(samples, "tasksched_schedulers_alive") == 0
    assert value(samples, "tasksched_scheduler_last_tick_timestamp_seconds") == last.timestamp()
    status = (await frozen_api.get("/api/status")).json()
    assert [(s["name"], s["alive"]) for s in status["schedulers"]] == [("s1", False)]
    await beats.stopped()  # a scheduler that said it stopped leaves no last tick behind
    assert value(await scrape(frozen_api), "tasksched_scheduler_last_tick_timestamp_seconds") is None


async def test_overdue_slots_show_when_no_scheduler_fires_them(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await create_task(frozen_api, "every-minute", schedule={"type": "interval", "seconds": 60})
    clock.advance(60 + 45)  # its first slot came 45 s ago and nothing fired it
    assert value(await scrape(frozen_api), "tasksched_schedule_overdue_seconds") == 45


async def test_counters_count_what_this_process_finished(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, "counted")
    labels = {"task": "counted", "status": "failed"}
    before = value(await scrape(api), "tasksched_runs_finished_total", **labels) or 0
    durations = value(await scrape(api), "tasksched_run_duration_seconds_count", status="failed") or 0
    for _ in range(3):
        await run_task(api, task["id"])
    await finish_runs(ctx, RunStatus.FAILED)
    samples = await scrape(api)
    assert value(samples, "tasksched_runs_finished_total", **labels) == before + 3
    assert value(samples, "tasksched_run_duration_seconds_count", status="failed") == durations + 3


async def test_request_metrics_are_labelled_by_route_template(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "routed")
    labels = {"method": "GET", "route": "/api/tasks/{task_id}", "status": "200"}
    before = value(await scrape(api), "tasksched_api_requests_total", **labels) or 0
    assert (await api.get(f"/api/tasks/{task['id']}")).status_code == 200
    assert (await api.get("/api/no/such/path/12345")).status_code == 404
    samples = await scrape(api)
    assert value(samples, "tasksched_api_requests_total", **labels) == before + 1
    routes = {dict(labels)["route"] for name, labels in samples if name == "tasksched_api_requests_total"}
    assert "unmatched" in routes
    assert not any(str(task["id"]) in r or "12345" in r for r in routes), routes  # no raw paths


async def test_a_metrics_token_is_required_once_configured(database_url: str) -> None:
    ctx = Context.open(make_settings(database_url, metrics_token="scrape-secret"))
    try:
        async with client_on(ctx) as client:
            del client.headers["Authorization"]
            refused = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            taken = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    finally:
        await ctx.close()
    assert_problem(refused, 401, mentions="TASKSCHED_METRICS_TOKEN")
    assert_problem(wrong, 401)
    assert taken.status_code == 200
    assert "tasksched_database_up" in taken.text


async def test_metrics_answer_when_the_database_is_unreachable() -> None:
    ctx = Context.open(make_settings("postgresql://nobody@127.0.0.1:1/nowhere"))
    try:
        async with client_on(ctx) as client:
            response = await client.get("/metrics")
    finally:
        await ctx.close()
    assert response.status_code == 200
    samples = parse(response.text)
    assert value(samples, "tasksched_database_up") == 0
    assert value(samples, "tasksched_queue_depth", queue="default") is None  # nothing made up


# --- GET /api/status ------------------------------------------------------------------------------


async def test_status_shows_health_throughput_backlog_and_next_runs(
    frozen_api: httpx.AsyncClient, frozen_ctx: Context, clock: FrozenClock
) -> None:
    task = await create_task(frozen_api, "status-task", retry={"max_attempts": 1})
    for status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUCCEEDED):
        await run_task(frozen_api, task["id"])
        await finish_runs(frozen_ctx, status)
    clock.advance(120)
    await run_task(frozen_api, task["id"])  # queued, waiting
    await WorkerService(frozen_ctx).register("w1", ["*"], 4)
    await SchedulerHeartbeats(frozen_ctx, "s1").register()
    scheduled = await create_task(frozen_api, "later", schedule={"type": "interval", "seconds": 3600})
    clock.advance(30)

    response = await frozen_api.get("/api/status", headers=VIEWER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["database"] == {"ok": True, "error": None}
    assert body["redis"] is None  # no TASKSCHED_REDIS_URL
    assert body["last_backup"] is None
    assert body["version"]
    assert body["workers"] == {"alive": 1, "slots": 4, "busy": 0}
    assert [(s["name"], s["alive"]) for s in body["schedulers"]] == [("s1", True)]
    assert body["backlog"]["queued"] == 1
    assert body["backlog"]["queues"] == [{"queue": "default", "queued": 1, "oldest_age_seconds": 30.0}]
    assert body["last_hour"] == {"finished": 3, "succeeded": 2, "failed": 1}
    minutes = body["throughput"]["per_minute"]
    assert len(minutes) == 60
    assert sum(m["finished"] for m in minutes) == 3
    assert minutes[-3] == {
        "minute": (clock.now() - timedelta(seconds=150)).replace(second=0).isoformat().replace("+00:00", "Z"),
        "finished": 3,
        "succeeded": 2,
        "failed": 1,
    }
    assert len(body["throughput"]["per_hour"]) == 24
    assert sum(h["failed"] for h in body["throughput"]["per_hour"]) == 1
    assert [d["task_name"] for d in body["next_due"]] == ["later"]
    assert body["next_due"][0]["task_id"] == scheduled["id"]


async def test_status_needs_a_key(api: httpx.AsyncClient) -> None:
    assert_problem(await send_without_auth(api, "GET", "/api/status"), 401)


@pytest.fixture
async def redis_ctx(database_url: str, redis_url: str) -> AsyncIterator[Context]:
    ctx = Context.open(make_settings(database_url, redis_url=redis_url))
    from tasksched.store import migrate

    await migrate.upgrade(ctx.db)
    await add_keys(ctx)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.mark.redis
async def test_status_pings_the_configured_redis(redis_ctx: Context, database_url: str) -> None:
    async with client_on(redis_ctx) as client:
        assert (await client.get("/api/status")).json()["redis"] == {"ok": True, "error": None}
    down = Context.open(make_settings(database_url, redis_url="redis://127.0.0.1:1/0"))
    try:
        async with client_on(down) as client:
            redis = (await client.get("/api/status")).json()["redis"]
    finally:
        await down.close()
    assert redis["ok"] is False
    assert redis["error"]


async def test_backups_reach_the_status_page_and_the_metrics(
    api: httpx.AsyncClient, ctx: Context, tmp_path: Path
) -> None:
    assert value(await scrape(api), "tasksched_backup_last_failed") == 0.0
    assert value(await scrape(api), "tasksched_backup_last_success_timestamp_seconds") is None

    made = await BackupService(ctx).backup(tmp_path / "good.backup", actor=CLI)
    assert made is not None
    status = (await api.get("/api/status", headers=VIEWER)).json()
    assert status["last_backup"]["status"] == "succeeded"
    assert status["last_backup"]["file"] == str(tmp_path / "good.backup")
    assert status["last_backup"]["size_bytes"] > 0
    samples = await scrape(api)
    assert value(samples, "tasksched_backup_last_failed") == 0.0
    assert value(samples, "tasksched_backup_last_success_timestamp_seconds") is not None

    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(BackupFailed):
        await BackupService(ctx).backup(blocker / "sub" / "bad.backup", actor=CLI)
    status = (await api.get("/api/status", headers=VIEWER)).json()
    assert status["last_backup"]["status"] == "failed"
    assert status["last_backup"]["error"]
    samples = await scrape(api)
    assert value(samples, "tasksched_backup_last_failed") == 1.0  # TaskschedBackupFailed fires on this
    assert value(samples, "tasksched_backup_last_success_timestamp_seconds") is not None
