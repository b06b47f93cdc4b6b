from __future__ import annotations

from typing import Any

import pytest

import tests.helpers.tasks  # noqa: F401  (registers the test task functions)
from tasksched.domain.principals import CLI
from tasksched.domain.tasks import TaskSpec
from tasksched.services.context import Context
from tasksched.services.tasks import TaskService
from tasksched.services.views import TaskView


def spec(**overrides: Any) -> TaskSpec:
    body: dict[str, Any] = {
        "name": "job",
        "action": {"type": "python", "function": "tests.noop"},
        "schedule": {"type": "interval", "seconds": 60},
    }
    body.update(overrides)
    return TaskSpec.model_validate(body)


@pytest.fixture
def make_task(frozen_ctx: Context) -> Any:
    service = TaskService(frozen_ctx)

    async def _make(**overrides: Any) -> TaskView:
        return await service.create(spec(**overrides), actor=CLI)

    return _make
