"""The Python producer API on both databases: ``fn.defer(...)`` stores a run of the task named like
the function (created on first use), a worker runs it with the call's arguments; ``defer_many``
queues many in one transaction; an idempotency key queues once; bad calls say what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasksched import producer
from tasksched.domain.runs import RunStatus, RunTrigger
from tasksched.producer import Call, ProducerError
from tasksched.services.context import Context
from tasksched.services.runs import RunQuery, RunService
from tasksched.services.tasks import TaskQuery, TaskService
from tests.helpers.tasks import note
from tests.integration.test_worker import burst


@pytest.fixture
def deferring(ctx: Context) -> Iterator[Context]:
    producer.configure(ctx.settings.database_url)
    try:
        yield ctx
    finally:
        producer.close()


async def task_named(ctx: Context, name: str) -> list[dict[str, Any]]:
    return list((await TaskService(ctx).list(TaskQuery(name=name))).items)


async def test_defer_creates_the_task_once_and_the_worker_runs_the_call(
    deferring: Context, tmp_path: Path
) -> None:
    ctx = deferring
    notes = tmp_path / "notes.txt"
    assert await task_named(ctx, "tests.note") == []
    first = await note.defer_async(str(notes), "one", suffix="!")
    second = note.defer(str(notes), value="two")  # the blocking form, from the same process
    tasks = await task_named(ctx, "tests.note")
    assert len(tasks) == 1  # created by the first call, found by the second
    task = tasks[0]
    assert (task["action"]["function"], task["schedule"], first.task_id) == ("tests.note", None, task["id"])
    run = await RunService(ctx).get(first.run_id)
    assert (run.trigger, run.status, first.created) == (RunTrigger.MANUAL, "queued", True)
    stats = await burst(ctx)
    assert stats.finished == 2
    assert sorted(notes.read_text().splitlines()) == ["one!", "two"]
    assert (await RunService(ctx).get(second.run_id)).status == "succeeded"


async def test_defer_many_queues_every_form_of_call_in_one_go(deferring: Context, tmp_path: Path) -> None:
    ctx = deferring
    notes = tmp_path / "many.txt"
    calls: list[Any] = [{"path": str(notes), "value": f"kw{i}"} for i in range(40)]
    calls += [[str(notes), f"pos{i}"] for i in range(40)]
    calls.append(Call(args=[str(notes)], kwargs={"value": "call"}))
    done = await note.defer_many_async(calls)
    assert len({d.run_id for d in done}) == len(done) == 81
    assert all(d.created for d in done)
    assert len(note.defer_many([[str(notes), "sync"]])) == 1
    await burst(ctx, concurrency=16)
    lines = notes.read_text().splitlines()
    assert sorted(lines) == sorted(
        [f"kw{i}" for i in range(40)] + [f"pos{i}" for i in range(40)] + ["call", "sync"]
    )
    _, total, _ = await RunService(ctx).list(
        RunQuery(task_id=done[0].task_id, statuses=[RunStatus.SUCCEEDED])
    )
    assert total == 82


async def test_an_idempotency_key_queues_the_run_once(deferring: Context, tmp_path: Path) -> None:
    ctx = deferring
    once = note.configure(idempotency_key="report-2026-12-02")
    first = await once.defer_async(str(tmp_path / "k.txt"), "a")
    again = await once.defer_async(str(tmp_path / "k.txt"), "a")
    assert (again.run_id, first.created, again.created) == (first.run_id, True, False)
    with pytest.raises(ProducerError, match="another input"):
        await once.defer_async(str(tmp_path / "k.txt"), "b")
    _, total, _ = await RunService(ctx).list(RunQuery(task_id=first.task_id))
    assert total == 1


async def test_arguments_that_are_not_json_are_refused_before_anything_is_stored(
    deferring: Context, tmp_path: Path
) -> None:
    with pytest.raises(ProducerError, match="JSON"):
        await note.defer_async(str(tmp_path), value=object())  # type: ignore[arg-type]
    assert await task_named(deferring, "tests.note") == []


def test_without_a_destination_the_error_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASKSCHED_URL", "TASKSCHED_API_KEY", "TASKSCHED_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    producer.close()
    monkeypatch.setattr(producer, "_configured", None)
    with pytest.raises(ProducerError, match="TASKSCHED_DATABASE_URL"):
        note.defer("/nowhere", "x")
