"""Notices on both databases with a frozen clock: delivery with retries and leases (a real HTTP
receiver), and the scheduler's checks (late start, long run, no success), each firing once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tasksched.clock import FrozenClock
from tasksched.domain.notifications import ChannelSpec, NoticeStatus, NotifyDefaults, NotifyRules
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.services.channels import ChannelService, NoticeQuery, NotificationService
from tasksched.services.context import Context
from tasksched.services.delivery import BACKOFF_FIRST_SECONDS, DeliveryService
from tasksched.services.execution import ExecutionService, Outcome
from tasksched.services.firing import FiringService
from tasksched.services.notices import NoticeChecks
from tasksched.services.runs import RunService
from tests.helpers.receivers import HttpReceiver

ONCE = {"max_attempts": 1}


@pytest.fixture
def receiver() -> Any:
    with HttpReceiver() as r:
        yield r


async def add_channel(ctx: Context, url: str, name: str = "hook") -> int:
    spec = ChannelSpec.model_validate({"name": name, "config": {"type": "json", "url": url}})
    return (await ChannelService(ctx).create(spec, actor=CLI)).id


async def notices(ctx: Context, **query: Any) -> list[Any]:
    items, _ = await NotificationService(ctx).list(NoticeQuery(limit=500, **query))
    return sorted(items, key=lambda n: n.id)


async def fail_once(ctx: Context, task_id: int) -> int:
    run = await RunService(ctx).run_now(task_id, actor=CLI)
    execution = ExecutionService(ctx)
    [claimed] = await execution.claim("w", None, 10)
    await execution.finish(
        "w", [Outcome(run=claimed, status=RunStatus.FAILED, finished_at=ctx.clock.now(), error="boom")]
    )
    return run.id


async def test_a_notice_is_delivered_once_and_its_attempt_recorded(
    frozen_ctx: Context, make_task: Any, receiver: HttpReceiver
) -> None:
    await add_channel(frozen_ctx, receiver.url)
    task = await make_task(retry=ONCE)
    run_id = await fail_once(frozen_ctx, task.id)
    async with httpx.AsyncClient() as client:
        delivery = DeliveryService(frozen_ctx, name="n1")
        done = await delivery.deliver_due(client)
        assert [d.ok for d in done] == [True]
        assert await delivery.deliver_due(client) == []  # nothing left to send
    [notice] = await notices(frozen_ctx, run_id=run_id)
    assert notice.status is NoticeStatus.DELIVERED
    assert [(a.attempt, a.ok, a.worker) for a in notice.history] == [(1, True, "n1")]
    assert receiver.accepted_keys() == [f"tasksched-notice-{notice.id}"]
    body = receiver.accepted[0].body
    assert b'"kind":"failed"' in body
    assert b"boom" in body


async def test_a_failing_channel_is_retried_with_backoff_then_given_up(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, receiver: HttpReceiver
) -> None:
    frozen_ctx.settings = frozen_ctx.settings.model_copy(update={"notify_max_attempts": 3})
    await add_channel(frozen_ctx, receiver.url)
    task = await make_task(retry=ONCE)
    await fail_once(frozen_ctx, task.id)
    receiver.status = 502
    delivery = DeliveryService(frozen_ctx, name="n1")
    async with httpx.AsyncClient() as client:
        [first] = await delivery.deliver_due(client)
        assert not first.ok
        assert first.error is not None
        assert "HTTP 502" in first.error
        [notice] = await notices(frozen_ctx)
        assert notice.status is NoticeStatus.PENDING
        assert notice.next_attempt_at is not None
        wait = (notice.next_attempt_at - clock.now()).total_seconds()
        assert BACKOFF_FIRST_SECONDS * 0.9 <= wait <= BACKOFF_FIRST_SECONDS * 1.1
        assert await delivery.deliver_due(client) == []  # not before its time
        clock.advance(wait)
        [second] = await delivery.deliver_due(client)
        assert not second.ok
        [notice] = await notices(frozen_ctx)
        assert notice.next_attempt_at is not None
        second_wait = (notice.next_attempt_at - clock.now()).total_seconds()
        assert second_wait > wait * 1.5  # doubled
        clock.advance(second_wait)
        [third] = await delivery.deliver_due(client)
        assert not third.ok
    [notice] = await notices(frozen_ctx)
    assert notice.status is NoticeStatus.FAILED
    assert [a.ok for a in notice.history] == [False, False, False]
    assert notice.attempts == 3
    assert receiver.accepted_keys() == []


async def test_a_notice_whose_notifier_vanished_is_sent_again_after_its_lease(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, receiver: HttpReceiver
) -> None:
    """A claims and "dies" (never settles); after the lease B sends it. A's late answer then
    changes nothing: B's attempt is the one recorded as the outcome."""
    await add_channel(frozen_ctx, receiver.url)
    task = await make_task(retry=ONCE)
    await fail_once(frozen_ctx, task.id)
    from tasksched.store import notices as notice_store

    now = clock.now()
    async with frozen_ctx.db.write() as tx:
        [held] = await notice_store.claim(
            tx, worker="A", now=now, lease_until=now + timedelta(seconds=60), limit=5
        )
    b = DeliveryService(frozen_ctx, name="B")
    async with httpx.AsyncClient() as client:
        assert await b.deliver_due(client) == []  # A's lease holds
        clock.advance(61)
        [sent] = await b.deliver_due(client)
        assert sent.ok
    a = DeliveryService(frozen_ctx, name="A")
    await a._record(held, clock.now(), clock.now(), 1, "late answer from A")  # A wakes up
    [notice] = await notices(frozen_ctx)
    assert notice.status is NoticeStatus.DELIVERED
    assert notice.last_error is None
    assert sorted((x.worker, x.ok) for x in notice.history) == [("A", False), ("B", True)]


async def test_late_start_fires_once_for_an_unfired_slot_and_for_a_queued_run(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, receiver: HttpReceiver
) -> None:
    await add_channel(frozen_ctx, receiver.url)
    rules = NotifyRules(late_start_seconds=30).model_dump()
    task = await make_task(
        schedule={"type": "interval", "seconds": 60}, notify=rules, concurrency_policy="allow"
    )
    checks = NoticeChecks(frozen_ctx)
    clock.advance(60 + 29)  # the slot is 29 s late: not yet
    assert await checks.check() == 0
    clock.advance(2)  # no scheduler fired it, no worker exists: late
    assert await checks.check() == 1
    assert await checks.check() == 0  # the same slot, once
    # The scheduler fires it now; the queued run of that slot is the same occurrence.
    await FiringService(frozen_ctx).fire_due()
    assert await checks.check() == 0
    [late] = await notices(frozen_ctx, task_id=task.id)
    assert late.kind == "late_start"
    assert "has not started 30 s after its time" in late.text
    # The next slot is fired on time, but no worker takes it: late again, once.
    clock.advance(60 - 31 + 1)
    await FiringService(frozen_ctx).fire_due()
    clock.advance(31)
    assert await checks.check() == 1
    assert await checks.check() == 0
    assert [n.kind for n in await notices(frozen_ctx, task_id=task.id)] == ["late_start", "late_start"]


async def test_long_running_and_no_success_fire_once_each(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, receiver: HttpReceiver
) -> None:
    await add_channel(frozen_ctx, receiver.url)
    await NotificationService(frozen_ctx).put_defaults(
        NotifyDefaults(rules=NotifyRules(long_running_seconds=120, no_success_hours=1)), actor=CLI
    )
    task = await make_task(retry=ONCE)
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    await ExecutionService(frozen_ctx).claim("w", None, 10)
    checks = NoticeChecks(frozen_ctx)
    clock.advance(119)
    assert await checks.check() == 0
    clock.advance(2)
    assert await checks.check() == 1
    assert await checks.check() == 0
    [long] = await notices(frozen_ctx)
    assert (long.kind, long.run_id) == ("long_running", run.id)
    clock.advance(3600)  # created over an hour ago and never succeeded
    assert await checks.check() == 1
    assert await checks.check() == 0
    assert [n.kind for n in await notices(frozen_ctx)] == ["long_running", "no_success"]


async def test_a_disabled_channels_notices_wait_and_go_out_when_it_is_enabled(
    frozen_ctx: Context, make_task: Any, receiver: HttpReceiver
) -> None:
    channel_id = await add_channel(frozen_ctx, receiver.url)
    task = await make_task(retry=ONCE)
    await fail_once(frozen_ctx, task.id)
    channels = ChannelService(frozen_ctx)
    spec = ChannelSpec.model_validate(
        {"name": "hook", "enabled": False, "config": {"type": "json", "url": receiver.url}}
    )
    await channels.replace(channel_id, spec, actor=CLI)
    delivery = DeliveryService(frozen_ctx, name="n1")
    async with httpx.AsyncClient() as client:
        assert await delivery.deliver_due(client) == []
        assert await delivery.next_due_at() is None  # nothing to wake up for
        await channels.replace(channel_id, spec.model_copy(update={"enabled": True}), actor=CLI)
        [sent] = await delivery.deliver_due(client)
    assert sent.ok
    assert len(receiver.accepted_keys()) == 1


async def test_links_point_at_the_public_url(
    frozen_ctx: Context, make_task: Any, receiver: HttpReceiver
) -> None:
    frozen_ctx.settings = frozen_ctx.settings.model_copy(update={"public_url": "https://tasks.example.com/"})
    await add_channel(frozen_ctx, receiver.url)
    task = await make_task(retry=ONCE)
    run_id = await fail_once(frozen_ctx, task.id)
    async with httpx.AsyncClient() as client:
        await DeliveryService(frozen_ctx, name="n1").deliver_due(client)
    import json

    document = json.loads(receiver.accepted[0].body)
    assert document["url"] == f"https://tasks.example.com/runs/{run_id}"
    assert document["run"]["id"] == run_id
    assert document["task"] == {"id": task.id, "name": task.name, "tags": []}
    assert "path" not in document


async def test_failures_in_a_row_are_counted_exactly_when_two_workers_finish_at_once(
    frozen_ctx: Context, make_task: Any, receiver: HttpReceiver
) -> None:
    """Two workers, each on its own connection, record two final failures of one task at the same
    time: the count reaches 4 (not 2 twice), and the rule for 4 in a row fires once."""
    import asyncio

    await add_channel(frozen_ctx, receiver.url)
    rules = {"on_failure": False, "consecutive_failures": 4}
    task = await make_task(retry=ONCE, notify=rules, concurrency_policy="allow")
    for _ in range(4):
        await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    other = Context.open(frozen_ctx.settings, clock=frozen_ctx.clock)
    try:
        a, b = ExecutionService(frozen_ctx), ExecutionService(other)
        mine, theirs = await a.claim("a", None, 2), await b.claim("b", None, 2)
        now = frozen_ctx.clock.now()
        await asyncio.gather(
            a.finish("a", [Outcome(run=r, status=RunStatus.FAILED, finished_at=now) for r in mine]),
            b.finish("b", [Outcome(run=r, status=RunStatus.FAILED, finished_at=now) for r in theirs]),
        )
    finally:
        await other.close()
    assert [n.kind for n in await notices(frozen_ctx)] == ["consecutive_failures"]


async def test_no_success_watches_only_tasks_whose_rules_ask(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, receiver: HttpReceiver
) -> None:
    """Without a global ``no_success_hours``, only tasks with their own are read at all."""
    from tasksched.store import notices as notice_store

    await add_channel(frozen_ctx, receiver.url)
    watched = await make_task(name="watched", notify=NotifyRules(no_success_hours=2).model_dump())
    await make_task(name="plain")
    await make_task(name="own-rules-without-it", notify=NotifyRules(long_running_seconds=60).model_dump())
    async with frozen_ctx.db.read() as tx:
        rows = await notice_store.success_watch(tx, own_rule_only=True, limit=100)
    assert [r["id"] for r in rows] == [watched.id]
    clock.advance(2 * 3600)
    assert await NoticeChecks(frozen_ctx).check() == 1
    [notice] = await notices(frozen_ctx)
    assert (notice.kind, notice.task_id) == ("no_success", watched.id)
    assert "has not succeeded for 2 h (never)" in notice.text


async def test_no_success_counts_from_the_last_success_before_the_failures(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, receiver: HttpReceiver
) -> None:
    await add_channel(frozen_ctx, receiver.url)
    task = await make_task(retry=ONCE, notify=NotifyRules(on_failure=False, no_success_hours=1).model_dump())
    execution = ExecutionService(frozen_ctx)
    await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    [run] = await execution.claim("w", None, 10)
    await execution.finish("w", [Outcome(run=run, status=RunStatus.SUCCEEDED, finished_at=clock.now())])
    succeeded_at = clock.now()
    clock.advance(1800)
    await fail_once(frozen_ctx, task.id)  # the last run is now a failure
    checks = NoticeChecks(frozen_ctx)
    clock.advance(1799)  # 59:59 after the success
    assert await checks.check() == 0
    clock.advance(2)
    assert await checks.check() == 1
    [notice] = await notices(frozen_ctx)
    assert notice.kind == "no_success"
    assert notice.payload["run"] == {
        "id": None,
        "status": None,
        "last_success_at": succeeded_at.isoformat().replace("+00:00", "Z"),
    }
