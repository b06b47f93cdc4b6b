"""A worker on a database whose secrets are sealed gets them in clear where they are used: the header
reaches the HTTP server, the variable reaches the command (real server, real process)."""

from __future__ import annotations

import sqlalchemy as sa

from tasksched.domain.principals import CLI
from tasksched.services.context import Context
from tasksched.services.runs import RunService
from tasksched.services.sealing import check_keys
from tasksched.services.tasks import TaskService
from tasksched.store import migrate
from tasksched.store.crypto import PREFIX, new_key
from tasksched.store.tables import tasks
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.loop import Worker
from tests.conftest import make_settings
from tests.helpers.http_target import HttpTarget
from tests.integration.conftest import spec


async def test_a_worker_uses_sealed_secrets_in_clear(database_url: str) -> None:
    ctx = Context.open(make_settings(database_url, enable_shell=True, secret_key=new_key()))
    executors = ExecutorSet(ctx.settings)
    try:
        await migrate.upgrade(ctx.db)
        await check_keys(ctx)
        with HttpTarget() as target:
            http = await TaskService(ctx).create(
                spec(
                    name="call",
                    action={"type": "http", "url": target.url("/ok"), "headers": {"X-Key": "hk-91d2"}},
                ),
                actor=CLI,
            )
            shell = await TaskService(ctx).create(
                spec(
                    name="cmd",
                    action={
                        "type": "shell",
                        "command": ["sh", "-c", 'test "$TOKEN" = ev-4c7e && echo same'],
                        "env": {"TOKEN": "ev-4c7e"},
                    },
                ),
                actor=CLI,
            )
            async with ctx.db.read() as tx:
                stored = list((await tx.execute(sa.select(tasks.c.action).order_by(tasks.c.id))).scalars())
            assert stored[0]["headers"]["X-Key"].startswith(PREFIX)
            assert stored[1]["env"]["TOKEN"].startswith(PREFIX)
            runs = [await RunService(ctx).run_now(t.id, actor=CLI) for t in (http, shell)]
            await Worker(ctx, executors, burst=True).run()
            assert target.requests[-1].headers["X-Key"] == "hk-91d2"
        done = [await RunService(ctx).get(run.id) for run in runs]
        assert [d.status.value for d in done] == ["succeeded", "succeeded"], [d.error for d in done]
        assert done[1].output == "same\n"
    finally:
        await executors.aclose()
        await ctx.close()
