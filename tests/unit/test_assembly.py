"""The app alone assembles nothing (the import edges are checked in test_layers.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tasksched.api.app import create_app
from tasksched.config import Settings
from tasksched.services.context import Context
from tasksched.store import migrate


async def test_a_standalone_app_opens_and_closes_its_own_database_and_starts_nothing(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'alone.db'}")
    ctx = Context.open(settings)
    await migrate.upgrade(ctx.db)
    await ctx.close()
    app = create_app(settings)
    before = asyncio.all_tasks()
    async with app.router.lifespan_context(app):
        started = {t.get_name() for t in asyncio.all_tasks() - before}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/readyz")).json()["status"] == "ready"
    assert not {name for name in started if name.startswith("tasksched-")}


def test_which_processes_deliver_notices() -> None:
    """``auto``: where a scheduler runs (late starts must go out with no worker alive)."""
    from tasksched.runtime import Roles

    serve = Roles(http=True, scheduler=True, worker=True)
    assert serve.runs_notifier("auto")
    assert Roles(scheduler=True).runs_notifier("auto")
    assert Roles(notifier=True).runs_notifier("auto")
    assert Roles(notifier=True).runs_notifier("off")  # the notifier command is one
    assert not Roles(http=True).runs_notifier("auto")
    assert not Roles(worker=True).runs_notifier("auto")
    assert Roles(worker=True).runs_notifier("on")
    assert not Roles(worker=True, burst=True).runs_notifier("on")  # a burst worker ends when idle
    assert not serve.runs_notifier("off")
