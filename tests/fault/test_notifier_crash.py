"""kill -9 the notifier while deliveries are in flight: no notice is lost, and the only duplicates
are of the notices in flight at the kill (their answers never reached the database).

Real parts throughout: ``tasksched notifier`` processes on a real database, a real HTTP receiver
for the webhook and json channels and a real SMTP server (aiosmtpd) for the e-mail channel, all
three holding their answers when the test says so.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from tasksched.config import Settings
from tasksched.domain.notifications import ChannelSpec, NoticeStatus
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskSpec
from tasksched.services.channels import ChannelService, NoticeQuery, NotificationService
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService, Outcome
from tasksched.services.runs import RunService
from tasksched.services.tasks import TaskService
from tasksched.store import migrate
from tests.helpers.processes import tasksched, wait_for
from tests.helpers.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.slow

FAILURES_PER_BATCH = 5
CHANNELS = 3


async def _setup(url: str, webhook: str, json_url: str, smtp_port: int) -> int:
    ctx = Context.open(Settings(database_url=url))
    try:
        await migrate.upgrade(ctx.db)
        channels = ChannelService(ctx)
        for spec in (
            {"name": "slack", "config": {"type": "webhook", "url": webhook, "hmac_secret": "k"}},
            {"name": "generic", "config": {"type": "json", "url": json_url}},
            {
                "name": "mail",
                "config": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": smtp_port,
                    "security": "none",
                    "from_address": "ts@example.com",
                    "to": ["ops@example.com"],
                },
            },
        ):
            await channels.create(ChannelSpec.model_validate(spec), actor=CLI)
        task = await TaskService(ctx).create(
            TaskSpec.model_validate(
                {
                    "name": "fragile",
                    "action": {"type": "http", "url": "https://example.com/"},
                    "concurrency_policy": "allow",
                    "retry": {"max_attempts": 1},
                }
            ),
            actor=CLI,
        )
        return task.id
    finally:
        await ctx.close()


async def _fail_runs(url: str, task_id: int, count: int) -> None:
    """Runs that fail for good, recorded as a worker does: each writes one notice per channel."""
    ctx = Context.open(Settings(database_url=url))
    try:
        for _ in range(count):
            await RunService(ctx).run_now(task_id, actor=CLI)
        execution = ExecutionService(ctx)
        claimed = await execution.claim("test-worker", None, count)
        now = ctx.clock.now()
        outcomes = [Outcome(run=c, status=RunStatus.FAILED, finished_at=now, error="boom") for c in claimed]
        await execution.finish("test-worker", outcomes)
    finally:
        await ctx.close()


async def _notices(url: str) -> list[dict[str, object]]:
    ctx = Context.open(Settings(database_url=url))
    try:
        items, _ = await NotificationService(ctx).list(NoticeQuery(limit=500))
        return [n.model_dump() for n in items]
    finally:
        await ctx.close()


def _delivered(url: str, expected: int) -> bool:
    notices = asyncio.run(_notices(url))
    return len(notices) == expected and all(n["status"] == NoticeStatus.DELIVERED for n in notices)


def test_killed_notifier_loses_no_notice_and_duplicates_only_what_was_in_flight(
    database_url: str, tmp_path: Path
) -> None:
    with HttpReceiver() as hook, HttpReceiver() as generic, SmtpReceiver() as smtp:
        receivers = (hook, generic, smtp)
        task_id = asyncio.run(_setup(database_url, hook.url, generic.url, smtp.port))
        env = {
            "TASKSCHED_DATABASE_URL": database_url,
            "TASKSCHED_NOTIFY_LEASE_SECONDS": "6",
            "TASKSCHED_NOTIFY_TIMEOUT_SECONDS": "3",
        }
        first = FAILURES_PER_BATCH * CHANNELS
        asyncio.run(_fail_runs(database_url, task_id, FAILURES_PER_BATCH))
        with tasksched(["notifier", "--worker-name", "victim"], env, tmp_path / "victim.log") as victim:
            # Committed deliveries first: the first batch goes out and is recorded.
            wait_for(
                lambda: _delivered(database_url, first), 30, interval=0.3, message="first batch delivered"
            )
            for r in receivers:
                r.hold()
            asyncio.run(_fail_runs(database_url, task_id, FAILURES_PER_BATCH))
            wait_for(
                lambda: sum(len(r.in_flight()) for r in receivers) >= 3,
                20,
                interval=0.02,
                message="deliveries in flight",
            )
            victim.kill9()
        # What the victim had sent before it died may still sit in the receivers' socket buffers:
        # once they have read it (a second is plenty), nothing more can come from the dead process.
        time.sleep(1.0)
        in_flight = {key for r in receivers for key in r.in_flight()}
        committed_before_kill = {key for r in receivers for key in r.accepted_keys()}
        for r in receivers:
            r.release()
        assert in_flight, "the notifier was killed with nothing in flight"
        assert len(committed_before_kill) == first

        with tasksched(["notifier", "--worker-name", "rescuer"], env, tmp_path / "rescuer.log") as rescuer:
            wait_for(
                lambda: _delivered(database_url, 2 * first),
                60,
                interval=0.5,
                message="every notice delivered",
            )
            assert rescuer.terminate() == 0

        notices = asyncio.run(_notices(database_url))
        keys = {f"tasksched-notice-{n['id']}" for n in notices}
        seen = Counter(entry.key for r in receivers for entry in r.seen)
        accepted = {key for r in receivers for key in r.accepted_keys()}
        # No notice lost: each was accepted by its channel and is recorded delivered.
        missing = {
            key: (n["channel_name"], n["history"], seen[key])
            for n in notices
            if (key := f"tasksched-notice-{n['id']}") not in accepted
        }
        assert not missing, missing
        assert len(keys) == 2 * first
        # No duplicate of a delivery that had been committed; a second copy only of what was in
        # flight at the kill (the receiver had it, the notifier died before recording the answer).
        duplicated = {key for key, count in seen.items() if count > 1}
        assert duplicated <= in_flight
        assert not duplicated & committed_before_kill
        assert max(seen.values()) <= 2
        by_key = {f"tasksched-notice-{n['id']}": n for n in notices}
        for key in in_flight:
            history = by_key[key]["history"]
            assert isinstance(history, list)
            # The rescuer's attempt is the one that delivered it; the victim recorded no success
            # (at most a timeout, when the kill came later than its attempt's deadline).
            assert (history[-1]["worker"], history[-1]["ok"]) == ("rescuer", True)
            assert not [a for a in history if a["worker"] == "victim" and a["ok"]]
        print(f"in flight at the kill: {len(in_flight)} notices; sent twice: {len(duplicated)}")
