"""/api/backups (admin only), and a task's retention through the API."""

from __future__ import annotations

from pathlib import Path

import httpx

from tasksched.domain.principals import CLI
from tasksched.services.backups import BackupService
from tasksched.services.context import Context
from tests.api.conftest import OPERATOR, VIEWER, assert_problem, create_task, task_body


async def test_backups_are_listed_for_admins_only(
    api: httpx.AsyncClient, ctx: Context, tmp_path: Path
) -> None:
    empty = await api.get("/api/backups")
    assert empty.status_code == 200
    assert empty.json() == {"items": [], "last_success_at": None}

    await BackupService(ctx).backup(tmp_path / "one.backup", actor=CLI, fmt="export")
    listed = (await api.get("/api/backups")).json()
    (item,) = listed["items"]
    assert item["trigger"] == "manual"
    assert item["status"] == "succeeded"
    assert item["file"] == str((tmp_path / "one.backup").resolve())
    assert item["size_bytes"] == (tmp_path / "one.backup").stat().st_size
    assert item["finished_at"].endswith("Z")
    assert listed["last_success_at"] == item["finished_at"]

    for headers in (VIEWER, OPERATOR):
        assert_problem(await api.get("/api/backups", headers=headers), 403)


async def test_a_task_carries_its_retention(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "kept", retention={"success_days": 7, "keep_last": 10})
    assert task["retention"] == {"success_days": 7, "failure_days": None, "keep_last": 10}
    plain = await create_task(api, "plain")
    assert plain["retention"] is None

    patched = await api.patch(f"/api/tasks/{plain['id']}", json={"retention": {"failure_days": 365}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["retention"]["failure_days"] == 365

    bad = await api.post("/api/tasks", json=task_body("bad", retention={"keep_last": -1}))
    assert_problem(bad, 422, field="retention.keep_last")
    unknown = await api.post("/api/tasks", json=task_body("bad", retention={"forever": True}))
    assert_problem(unknown, 422, field="retention.forever")
