"""The API refuses a shell action whose argv[0] TASKSCHED_SHELL_ALLOW does not allow (the worker checks
again before exec: tests/unit/test_shell_allow.py)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import httpx
import pytest

from tasksched.services.context import Context
from tasksched.store import migrate
from tests.api.conftest import assert_problem, client_on, create_task, snapshot, task_body
from tests.conftest import add_keys, make_settings

ECHO = shutil.which("echo")


@pytest.fixture
async def allow_api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    assert ECHO is not None
    ctx = Context.open(make_settings(database_url, enable_shell=True, shell_allow=ECHO))
    await migrate.upgrade(ctx.db)
    await add_keys(ctx)
    try:
        async with client_on(ctx) as client:
            yield client
    finally:
        await ctx.close()


async def test_an_allowed_executable_is_accepted_by_path_and_by_name(allow_api: httpx.AsyncClient) -> None:
    await create_task(allow_api, "by-path", action={"type": "shell", "command": [ECHO, "$(id)"]})
    await create_task(allow_api, "by-name", action={"type": "shell", "command": ["echo", "hi"]})


@pytest.mark.parametrize("program", ["/bin/sh", "sh", "./echo", "../bin/echo", "echo; id"])
async def test_another_executable_is_refused_naming_argv_0(
    allow_api: httpx.AsyncClient, program: str
) -> None:
    before = await snapshot(allow_api)
    body = task_body(action={"type": "shell", "command": [program, "-c", "id"]})
    response = await allow_api.post("/api/tasks", json=body)
    assert_problem(response, 422, field="action.command.0", mentions="TASKSCHED_SHELL_ALLOW")
    assert await snapshot(allow_api) == before


async def test_a_change_to_a_refused_executable_is_refused(allow_api: httpx.AsyncClient) -> None:
    task = await create_task(allow_api, action={"type": "shell", "command": ["echo", "hi"]})
    before = await snapshot(allow_api)
    response = await allow_api.patch(
        f"/api/tasks/{task['id']}",
        json={"action": {"type": "shell", "command": ["/bin/sh", "-c", "id"]}},
        headers={"If-Match": f'"{task["version"]}"'},
    )
    assert_problem(response, 422, field="action.command.0")
    assert await snapshot(allow_api) == before


async def test_an_actions_path_cannot_make_another_program_allowed(allow_api: httpx.AsyncClient) -> None:
    body = task_body(action={"type": "shell", "command": ["echo"], "env": {"PATH": "/nonexistent"}})
    response = await allow_api.post("/api/tasks", json=body)
    assert_problem(response, 422, field="action.command.0", mentions="not found in PATH")
