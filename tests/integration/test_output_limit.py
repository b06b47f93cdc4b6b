"""No run stores more than the tail limit, whatever its executor produced: output or error."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tasksched.config import Settings
from tasksched.domain.principals import CLI
from tasksched.domain.runs import clip
from tasksched.services.context import Context
from tasksched.services.runs import RunService
from tests.conftest import make_settings
from tests.helpers.http_target import HttpTarget
from tests.integration.test_worker import burst

LIMIT = 2048


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, output_limit_bytes=LIMIT, enable_shell=True)


@pytest.fixture
def target() -> Any:
    with HttpTarget() as running:
        yield running


def actions(target: HttpTarget) -> dict[str, dict[str, Any]]:
    big = 300_000
    return {
        "shell-output": {"type": "shell", "command": [sys.executable, "-c", f"print('€' * {big})"]},
        "shell-fails": {
            "type": "shell",
            "command": [sys.executable, "-c", f"import sys; print('x' * {big}); sys.exit(3)"],
        },
        "http-body": {"type": "http", "url": target.url(f"/large?size={big}")},
        "http-status": {"type": "http", "url": target.url("/status/500")},
        "python-output": {"type": "python", "function": "tests.flood", "args": [big]},
        "python-error": {"type": "python", "function": "tests.flood", "args": [10, big]},
    }


async def test_outputs_and_errors_never_exceed_the_limit(
    frozen_ctx: Context, make_task: Any, target: HttpTarget
) -> None:
    runs = RunService(frozen_ctx)
    queued = {}
    for name, action in actions(target).items():
        task = await make_task(name=name, action=action, schedule=None)
        queued[name] = (await runs.run_now(task.id, actor=CLI)).id
    await burst(frozen_ctx)
    for name, run_id in queued.items():
        run = await runs.get(run_id)
        assert run.status in ("succeeded", "failed"), (name, run.status)
        for text in (run.output, run.error):
            assert text is None or len(text.encode()) <= LIMIT, (name, len(text.encode()))
    # The large ones were cut, and say so; their tail (output) or head (error) is what was kept.
    python_output = (await runs.get(queued["python-output"])).output
    assert python_output is not None
    assert "earlier" in python_output
    assert len(python_output.encode()) > LIMIT - 200
    python_error = (await runs.get(queued["python-error"])).error
    assert python_error is not None
    assert python_error.startswith("ValueError: €€€")
    assert "more bytes dropped" in python_error
    shell = (await runs.get(queued["shell-output"])).output
    assert shell is not None
    assert shell.rstrip().endswith("€€€")


@pytest.mark.parametrize("keep", ["tail", "head"])
@pytest.mark.parametrize("text", ["a" * 5000, "€" * 5000, "a€" * 3000 + "𝄞" * 10, "short"])
def test_clip_stays_within_the_limit_and_keeps_whole_characters(text: str, keep: str) -> None:
    out = clip(text, 1024, keep=keep)
    assert out is not None
    assert len(out.encode()) <= 1024
    if len(text.encode()) <= 1024:
        assert out == text
    else:
        body = out.split("\n", 1)[1] if keep == "tail" else out.rsplit("\n", 1)[0]
        assert text.endswith(body) if keep == "tail" else text.startswith(body)
        assert len(body.encode()) >= 1024 - 64 - 4
