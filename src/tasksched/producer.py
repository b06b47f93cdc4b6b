"""Queue runs of registered functions from Python: ``nightly.defer(day="x")``.

Every ``@task`` function gets ``defer`` / ``defer_async`` / ``defer_many`` / ``defer_many_async``
(and ``configure(idempotency_key=…)``), as Celery's tasks have ``.delay`` and Procrastinate's
``.defer``. A deferred call becomes a manual run of **the task named like the function** (its
registered name), created on first use as a manual-only task with a ``python`` action; the call's
arguments are the run's input (``args`` replace the action's, ``kwargs`` override its entries).
Each call returns once the run is stored: durable, like every run.

Where the runs go (the first that applies):

- ``tasksched.producer.configure(url, api_key=…)``: an ``http(s)://`` URL writes through the REST API
  with a key (operator to queue runs; admin as well if the task must be created, and the API process
  must then have the function registered too, through ``TASKSCHED_IMPORTS``); any other URL is a
  database URL, written directly through the services, as the ``tasksched`` command does.
- ``TASKSCHED_URL`` with ``TASKSCHED_API_KEY`` in the environment: the REST API.
- ``TASKSCHED_DATABASE_URL``: the database (so a task function running in a worker can defer another).

The calls run on one private event loop in a daemon thread: synchronous callers block on it, async
callers await it, and one connection pool (or HTTP client) serves the whole process whatever loop or
thread calls. ``close()`` (also run at exit) shuts it down.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
from collections.abc import Coroutine, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tasksched.domain.principals import Actor
from tasksched.errors import TaskschedError

if TYPE_CHECKING:  # pragma: no cover - types only
    from tasksched.services.context import Context

__all__ = ["Call", "Deferred", "ProducerError", "close", "configure"]

T = TypeVar("T")

# One request of defer_many carries at most this many runs (the API's batch limit).
BATCH = 5000


class ProducerError(TaskschedError):
    """A deferred call could not be stored: not configured, refused by the API, or the database."""


@dataclass(frozen=True)
class Deferred:
    """A run that a deferred call queued (``created``), or the earlier run of its idempotency key."""

    run_id: int
    task_id: int
    created: bool = True


@dataclass(frozen=True)
class Call:
    """One call for ``defer_many``: positional and keyword arguments, and an optional idempotency key."""

    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None

    def run_input(self) -> dict[str, Any]:
        given: dict[str, Any] = {}
        if self.args:
            given["args"] = list(self.args)
        if self.kwargs:
            given["kwargs"] = dict(self.kwargs)
        return given

    def encoded(self) -> str:
        """The run's input as JSON, refusing arguments a run cannot carry (they are stored as JSON).
        Done for every call before anything is stored, and what the REST API is sent, so a call is
        serialised once."""
        try:
            return json.dumps(self.run_input(), allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ProducerError(f"a deferred call's arguments must be JSON values: {exc}") from None


def as_call(item: Call | dict[str, Any] | Sequence[Any]) -> Call:
    """``defer_many`` takes Calls, dicts (keyword arguments) or lists / tuples (positional ones)."""
    if isinstance(item, Call):
        return item
    if isinstance(item, dict):
        return Call(kwargs=item)
    if isinstance(item, (list, tuple)):
        return Call(args=item)
    raise TypeError(f"defer_many takes Call, dict or list items, not {type(item).__name__}")


class _TaskGone(Exception):
    """The task a cached id stood for was deleted: find (or create) it again."""


class _Backend(Protocol):
    async def task_id(self, name: str) -> int: ...
    # ``inputs``: each call's ``encoded()`` input, in order.
    async def enqueue(self, task_id: int, calls: Sequence[Call], inputs: Sequence[str]) -> list[Deferred]: ...
    async def close(self) -> None: ...


_JSON = {"Content-Type": "application/json"}


class _RestBackend:
    """Through the REST API: ``POST /api/tasks/{id}/run`` for one call, ``POST /api/runs:batch`` for more."""

    def __init__(self, url: str, api_key: str | None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=60)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self._request(method, path, **kwargs))[1]

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        import httpx

        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ProducerError(f"cannot reach the tasksched API at {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            fields = [str(e.get("field")) for e in problem.get("errors") or []]
            gone = response.status_code == 404 or any(f.endswith("task_id") for f in fields)
            if gone and path.startswith(("/api/tasks/", "/api/runs:batch")):
                raise _TaskGone
            errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in problem.get("errors") or [])
            detail = problem.get("detail") or problem.get("title") or "request failed"
            raise ProducerError(
                f"HTTP {response.status_code} from {path}: {detail}{f' ({errors})' if errors else ''}"
            )
        return response.status_code, (response.json() if response.content else None)

    async def task_id(self, name: str) -> int:
        page = await self._call("GET", "/api/tasks", params={"name": name, "limit": 1})
        if page["items"]:
            return int(page["items"][0]["id"])
        created = await self._call("POST", "/api/tasks", json=_task_spec(name))
        return int(created["id"])

    async def enqueue(self, task_id: int, calls: Sequence[Call], inputs: Sequence[str]) -> list[Deferred]:
        # The bodies are put together from the inputs already encoded, not serialised again.
        if len(calls) == 1:
            call = calls[0]
            headers = {**_JSON, "Idempotency-Key": call.idempotency_key} if call.idempotency_key else _JSON
            body = f'{{"input":{inputs[0]}}}'
            status, run = await self._request(
                "POST", f"/api/tasks/{task_id}/run", content=body.encode(), headers=headers
            )
            # 202: queued now; 200: a repeat of the idempotency key, answered with the key's first run.
            return [Deferred(int(run["id"]), task_id, created=status == 202)]
        items = []
        for call, encoded in zip(calls, inputs, strict=True):
            key = f',"idempotency_key":{json.dumps(call.idempotency_key)}' if call.idempotency_key else ""
            items.append(f'{{"task_id":{task_id},"input":{encoded}{key}}}')
        body = f'{{"runs":[{",".join(items)}]}}'
        result = await self._call("POST", "/api/runs:batch", content=body.encode(), headers=_JSON)
        return [Deferred(int(r["run_id"]), task_id, bool(r["created"])) for r in result["runs"]]

    async def close(self) -> None:
        await self._http.aclose()


class _DatabaseBackend:
    """Straight to the database through the services (the ``tasksched`` command's way, as ``cli``)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._ctx: Context | None = None
        self._stop_relay: Any = None
        self._opening = asyncio.Lock()

    async def _context(self) -> Context:
        async with self._opening:
            if self._ctx is None:
                from tasksched.config import Settings
                from tasksched.runtime import open_context, start_relay

                ctx = await open_context(Settings(database_url=self._url), schema="require")
                # The relay carries the new runs' events to the workers, which wake at once.
                self._stop_relay = await start_relay(ctx)
                self._ctx = ctx
            return self._ctx

    async def task_id(self, name: str) -> int:
        from tasksched.domain.tasks import TaskSpec
        from tasksched.errors import Conflict
        from tasksched.services.tasks import TaskQuery, TaskService

        service = TaskService(await self._context())
        for _ in range(2):
            found = await service.list(TaskQuery(name=name, limit=1))
            if found.items:
                return int(found.items[0]["id"])
            try:
                created = await service.create(TaskSpec.model_validate(_task_spec(name)), actor=_ACTOR)
            except Conflict:  # another producer created it first: read it again
                continue
            return created.id
        raise ProducerError(f"cannot find or create the task {name!r}")  # pragma: no cover - racing deletes

    async def enqueue(self, task_id: int, calls: Sequence[Call], inputs: Sequence[str]) -> list[Deferred]:
        from tasksched.errors import InvalidInput, NotFound
        from tasksched.services.runs import RunService

        service = RunService(await self._context())
        try:
            return await self._enqueue(service, task_id, calls)
        except NotFound:
            raise _TaskGone from None
        except InvalidInput as exc:
            if (exc.field or "").endswith("task_id"):
                raise _TaskGone from None
            raise

    async def _enqueue(self, service: Any, task_id: int, calls: Sequence[Call]) -> list[Deferred]:
        from tasksched.domain.actions import RunInput
        from tasksched.services.runs import BatchItem

        if len(calls) == 1:
            call = calls[0]
            done = await service.enqueue(
                task_id,
                actor=_ACTOR,
                run_input=RunInput.model_validate(call.run_input()),
                idempotency_key=call.idempotency_key,
            )
            return [Deferred(done.run.id, task_id, done.created)]
        items = [BatchItem(task_id, RunInput.model_validate(c.run_input()), c.idempotency_key) for c in calls]
        entries = await service.enqueue_many(items, actor=_ACTOR)
        return [Deferred(e.run_id, e.task_id, e.created) for e in entries]

    async def close(self) -> None:
        if self._ctx is not None:
            if self._stop_relay is not None:
                self._stop_relay()
            await self._ctx.close()
            self._ctx = None


def _task_spec(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Runs deferred from Python (fn.defer); created on the first call.",
        "action": {"type": "python", "function": name},
        "schedule": None,
    }


_ACTOR = Actor("cli", "python producer")  # in the audit log, beside the `tasksched` command's "cli"


class _Producer:
    """The process's producer: a backend on a private event loop in a daemon thread."""

    def __init__(self, make: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tasksched-producer", daemon=True)
        self._thread.start()
        self._backend: _Backend = make()
        self._task_ids: dict[str, int] = {}

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def defer(self, name: str, calls: Sequence[Call]) -> list[Deferred]:
        inputs = [call.encoded() for call in calls]  # every call checked before any is stored
        try:
            done: list[Deferred] = []
            for start in range(0, len(calls), BATCH):
                end = start + BATCH
                done.extend(await self._enqueue(name, calls[start:end], inputs[start:end]))
            return done
        except ProducerError:
            raise
        except TaskschedError as exc:  # the services' refusals (a bad input, a reused key, …), as one type
            raise ProducerError(f"{type(exc).__name__}: {exc}") from exc

    async def _enqueue(self, name: str, calls: Sequence[Call], inputs: Sequence[str]) -> list[Deferred]:
        cached = self._task_ids.get(name)
        if cached is not None:
            try:
                return await self._backend.enqueue(cached, calls, inputs)
            except _TaskGone:  # deleted since it was looked up: nothing was queued, so look again
                del self._task_ids[name]
        task_id = self._task_ids[name] = await self._backend.task_id(name)
        try:
            return await self._backend.enqueue(task_id, calls, inputs)
        except _TaskGone:
            raise ProducerError(f"the task {name!r} was deleted while runs were being queued") from None

    async def _shutdown(self) -> None:
        await self._backend.close()
        # What the backend left running (a relay's reconnect loop) ends here, not with the loop.
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for leftover in rest:
            leftover.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.submit(self._shutdown()).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


_lock = threading.Lock()
_producer: _Producer | None = None
_configured: tuple[str, str | None] | None = None


def configure(url: str, *, api_key: str | None = None) -> None:
    """Send deferred calls to ``url``: an ``http(s)://`` tasksched API (with ``api_key``, or
    ``TASKSCHED_API_KEY``) or a database URL. Replaces an earlier configuration."""
    global _configured
    close()
    with _lock:
        _configured = (url, api_key)


def close() -> None:
    """Close the producer's connections (run at exit too); the next call opens them again."""
    global _producer
    with _lock:
        producer, _producer = _producer, None
    if producer is not None:
        producer.close()


atexit.register(close)


def _backend_factory() -> Any:
    if _configured is not None:
        url, key = _configured
    elif os.environ.get("TASKSCHED_URL") and os.environ.get("TASKSCHED_API_KEY"):
        url, key = os.environ["TASKSCHED_URL"], None
    elif os.environ.get("TASKSCHED_DATABASE_URL"):
        url, key = os.environ["TASKSCHED_DATABASE_URL"], None
    else:
        raise ProducerError(
            "nowhere to defer to: call tasksched.producer.configure(url, api_key=…), or set TASKSCHED_URL "
            "and TASKSCHED_API_KEY (the REST API) or TASKSCHED_DATABASE_URL (the database)"
        )
    if url.startswith(("http://", "https://")):
        api_key = key or os.environ.get("TASKSCHED_API_KEY")
        return lambda: _RestBackend(url, api_key)
    return lambda: _DatabaseBackend(url)


def _current() -> _Producer:
    global _producer
    with _lock:
        if _producer is None:
            _producer = _Producer(_backend_factory())
        return _producer


def defer_sync(name: str, calls: Iterable[Call]) -> list[Deferred]:
    """Queue runs of the task named ``name``, blocking until they are stored."""
    producer = _current()
    return producer.submit(producer.defer(name, list(calls))).result()


async def defer_async(name: str, calls: Iterable[Call]) -> list[Deferred]:
    """Queue runs of the task named ``name`` from a coroutine (on any event loop)."""
    producer = _current()
    return await asyncio.wrap_future(producer.submit(producer.defer(name, list(calls))))
