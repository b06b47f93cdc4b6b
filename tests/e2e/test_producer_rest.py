"""The Python producer through the REST API, as a separate program uses it: a real `tasksched serve`
(which registers the function through TASKSCHED_IMPORTS and runs it), keys of real roles, the
function's effects read from a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tasksched import producer
from tasksched.producer import ProducerError
from tests.helpers.processes import free_port, tasksched, wait_for
from tests.helpers.tasks import echo, note

pytestmark = pytest.mark.slow

KEY = "ts_e2e_producer_admin_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("producer")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "TASKSCHED_DATABASE_URL": f"sqlite:///{folder / 'p.db'}",
        "TASKSCHED_BOOTSTRAP_KEY": KEY,
        "TASKSCHED_PORT": str(port),
        "TASKSCHED_IMPORTS": "tests.helpers.tasks",
    }
    with tasksched(["serve"], env, folder / "serve.log") as proc:
        proc.wait_ready(base)
        yield base


@pytest.fixture
def admin(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {KEY}"}, timeout=15) as client:
        yield client


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_defer_through_the_api_runs_the_call_in_the_server(
    server: str, admin: httpx.Client, tmp_path: Path
) -> None:
    notes = tmp_path / "rest.txt"
    producer.configure(server, api_key=KEY)
    try:
        one = note.defer(str(notes), "single")
        many = note.defer_many([{"path": str(notes), "value": f"n{i}"} for i in range(300)])
        keyed = note.configure(idempotency_key="once-only")
        first, again = keyed.defer(str(notes), "keyed"), keyed.defer(str(notes), "keyed")
    finally:
        producer.close()
    assert len({d.run_id for d in many}) == 300
    assert (again.run_id, first.created, again.created) == (first.run_id, True, False)
    task = admin.get("/api/tasks", params={"name": "tests.note"}).json()["items"][0]
    assert task["id"] == one.task_id
    wait_for(lambda: len(lines(notes)) >= 302, timeout=60, message="every deferred run to have run")
    assert sorted(lines(notes)) == sorted(["single", "keyed", *(f"n{i}" for i in range(300))])


def test_an_operator_key_queues_runs_but_cannot_create_the_task(
    server: str, admin: httpx.Client, tmp_path: Path
) -> None:
    made = admin.post("/api/keys", json={"name": "producer-op", "role": "operator"})
    assert made.status_code == 201, made.text
    if not admin.get("/api/tasks", params={"name": "tests.note"}).json()["items"]:
        spec = {
            "name": "tests.note",
            "action": {"type": "python", "function": "tests.note"},
            "schedule": None,
        }
        assert admin.post("/api/tasks", json=spec).status_code == 201
    producer.configure(server, api_key=made.json()["key"])
    try:
        with pytest.raises(ProducerError, match="HTTP 403"):
            echo.defer("no task named tests.echo yet")
        assert admin.get("/api/tasks", params={"name": "tests.echo"}).json()["items"] == []
        notes = tmp_path / "op.txt"
        assert note.defer(str(notes), "operator").created
    finally:
        producer.close()
    wait_for(lambda: lines(notes) == ["operator"], timeout=30, message="the operator's run to have run")


def test_defer_many_through_the_api_carries_each_calls_key_and_arguments(
    server: str, admin: httpx.Client, tmp_path: Path
) -> None:
    # The batch's body is put together from each call's JSON: keys (printable ASCII) and values with
    # quotes, backslashes and non-ASCII text arrive as given, and a repeated key finds its first run.
    notes = tmp_path / "keys.txt"
    odd = 'quote " back \\ snow ☃'
    calls = [
        producer.Call(args=[str(notes), f"{odd} {i}"], idempotency_key=f'say "{i}" \\ twice')
        for i in range(3)
    ]
    producer.configure(server, api_key=KEY)
    try:
        first = note.defer_many([*calls, {"path": str(notes), "value": "plain"}])
        again = note.defer_many(calls)
    finally:
        producer.close()
    assert [d.created for d in first] == [True] * 4
    assert [(d.run_id, d.created) for d in again] == [(d.run_id, False) for d in first[:3]]
    run = admin.get(f"/api/runs/{first[0].run_id}").json()
    assert run["input"] == {"args": [str(notes), f"{odd} 0"]}
    wait_for(lambda: len(lines(notes)) >= 4, timeout=30, message="the deferred runs to have run")
    assert sorted(lines(notes)) == sorted([*(f"{odd} {i}" for i in range(3)), "plain"])
