"""The ``@task`` decorator: the registry of Python functions that ``python`` actions may call.

A ``python`` action names a function by the name it was registered under, never by an import path:
the API refuses names that are not registered, and nothing here imports a module named by a request.
The worker imports the modules listed in ``TASKSCHED_IMPORTS`` (or ``--import``) at start-up, which
runs their ``@task`` decorators.

Inside a run, a function reaches its run through ``current_run()``: ids, attempt, a cancellation flag
to poll and ``log()`` to write to the run's output.

Outside a run, a registered function can be queued: ``fn.defer(...)``, ``await fn.defer_async(...)``,
``fn.defer_many([...])`` and ``fn.configure(idempotency_key=…).defer(...)`` store a run of the task
named like the function (see ``producer.py``). The function itself is returned unchanged, with those
methods added, so calling it directly still just calls it.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

from pydantic import ValidationError

from tasksched.domain.actions import PythonAction
from tasksched.errors import TaskschedError

if TYPE_CHECKING:  # pragma: no cover - types only
    from tasksched.producer import Call, Deferred

__all__ = [
    "Deferrer",
    "Registered",
    "RegistryError",
    "Retry",
    "RunContext",
    "TaskFunction",
    "current_run",
    "get_function",
    "import_modules",
    "registered_names",
    "task",
    "unregister",
]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class RegistryError(TaskschedError):
    """A function cannot be registered, or a module listed in ``TASKSCHED_IMPORTS`` cannot be imported."""


class Retry(Exception):  # named like arq's: it reads well at the raise site
    """Raise from a task function to ask for another attempt.

    ``Retry(delay=5)`` asks for the next attempt in 5 seconds instead of the task's backoff;
    ``Retry()`` uses the backoff. The task's ``max_attempts`` still bounds the attempts.
    """

    def __init__(self, delay: float | None = None, reason: str | None = None) -> None:
        if delay is not None and delay < 0:
            raise ValueError("Retry delay must not be negative")
        self.delay = None if delay is None else float(delay)
        self.reason = reason
        super().__init__(reason or "retry requested")


@dataclass(frozen=True)
class Registered:
    name: str
    func: Callable[..., Any]
    is_async: bool

    @property
    def origin(self) -> str:
        """Where the function is defined, for messages: ``module.qualname``."""
        return f"{self.func.__module__}.{self.func.__qualname__}"


_registry: dict[str, Registered] = {}
_lock = threading.Lock()


def _check_name(name: str) -> None:
    # The same rule the API applies to PythonAction.function, so every registered name is callable.
    try:
        PythonAction(function=name)
    except ValidationError:
        raise RegistryError(
            f"cannot register a task function as {name!r}: a name must be a dotted name such as "
            "'reports.nightly' (functions defined inside other functions need an explicit name=)"
        ) from None


def _register(func: Callable[..., Any], name: str | None) -> str:
    if not callable(func):
        raise RegistryError(f"@task needs a function, got {func!r}")
    name = name if name is not None else f"{func.__module__}.{func.__qualname__}"
    _check_name(name)
    entry = Registered(name=name, func=func, is_async=inspect.iscoroutinefunction(func))
    with _lock:
        existing = _registry.get(name)
        # A reloaded module defines a new function object with the same module and qualname: that is
        # the same task being defined again, so the newer definition replaces the old one.
        if existing is not None and existing.func is not func and existing.origin != entry.origin:
            raise RegistryError(
                f"task name {name!r} is already registered for {existing.origin}; "
                f"cannot register {entry.origin} under the same name"
            )
        _registry[name] = entry
    return name


class Deferrer(Generic[P]):
    """Queues runs of one registered function: ``defer`` stores one, ``defer_many`` several at once."""

    def __init__(self, name: str, idempotency_key: str | None = None) -> None:
        self.name = name
        self._key = idempotency_key

    def configure(self, *, idempotency_key: str | None = None) -> Deferrer[P]:
        """The same function with options for the next call: a second ``defer`` with the same
        ``idempotency_key`` queues nothing and returns the first call's run."""
        return Deferrer(self.name, idempotency_key)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        from tasksched.producer import Call

        return Call(args=args, kwargs=kwargs, idempotency_key=self._key)

    def defer(self, *args: P.args, **kwargs: P.kwargs) -> Deferred:
        """Queue a run with these arguments; returns once it is stored."""
        from tasksched.producer import defer_sync

        return defer_sync(self.name, [self._call(args, kwargs)])[0]

    async def defer_async(self, *args: P.args, **kwargs: P.kwargs) -> Deferred:
        """``defer`` for coroutines."""
        from tasksched.producer import defer_async

        return (await defer_async(self.name, [self._call(args, kwargs)]))[0]

    def defer_many(self, calls: Iterable[Call | dict[str, Any] | Sequence[Any]]) -> list[Deferred]:
        """Queue many runs in as few requests as can carry them (one transaction per 5,000): each
        item a ``Call``, a dict of keyword arguments or a list of positional ones."""
        from tasksched.producer import as_call, defer_sync

        return defer_sync(self.name, [as_call(c) for c in calls])

    async def defer_many_async(
        self, calls: Iterable[Call | dict[str, Any] | Sequence[Any]]
    ) -> list[Deferred]:
        """``defer_many`` for coroutines."""
        from tasksched.producer import as_call, defer_async

        return await defer_async(self.name, [as_call(c) for c in calls])


class TaskFunction(Protocol[P, R_co]):
    """What ``@task`` returns: the function, callable as before, with the ``Deferrer`` methods."""

    __name__: str
    deferrer: Deferrer[P]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...
    def defer(self, *args: P.args, **kwargs: P.kwargs) -> Deferred: ...
    async def defer_async(self, *args: P.args, **kwargs: P.kwargs) -> Deferred: ...
    def defer_many(self, calls: Iterable[Call | dict[str, Any] | Sequence[Any]]) -> list[Deferred]: ...
    async def defer_many_async(
        self, calls: Iterable[Call | dict[str, Any] | Sequence[Any]]
    ) -> list[Deferred]: ...
    def configure(self, *, idempotency_key: str | None = None) -> Deferrer[P]: ...


def _with_deferrer(func: Callable[P, R], name: str) -> TaskFunction[P, R]:
    deferrer: Deferrer[P] = Deferrer(name)
    for attribute in ("defer", "defer_async", "defer_many", "defer_many_async", "configure"):
        setattr(func, attribute, getattr(deferrer, attribute))
    func.deferrer = deferrer  # type: ignore[attr-defined]
    return func  # type: ignore[return-value]


@overload
def task(func: Callable[P, R], /) -> TaskFunction[P, R]: ...
@overload
def task(*, name: str | None = None) -> Callable[[Callable[P, R]], TaskFunction[P, R]]: ...
def task(
    func: Callable[P, R] | None = None, /, *, name: str | None = None
) -> TaskFunction[P, R] | Callable[[Callable[P, R]], TaskFunction[P, R]]:
    """Register a function for ``python`` actions; the function is returned with ``defer`` and its
    kin added (see ``Deferrer``), otherwise unchanged.

    Use as ``@task`` (the name is ``module.qualname``) or ``@task(name="reports.nightly")``.
    Works on plain and ``async`` functions.
    """
    if func is not None:
        return _with_deferrer(func, _register(func, None))

    def decorate(f: Callable[P, R]) -> TaskFunction[P, R]:
        return _with_deferrer(f, _register(f, name))

    return decorate


def get_function(name: str) -> Registered | None:
    with _lock:
        return _registry.get(name)


def registered_names() -> list[str]:
    with _lock:
        return sorted(_registry)


def unregister(name: str) -> None:
    """Forget a registration (tests, or code that redefines its tasks); unknown names are ignored."""
    with _lock:
        _registry.pop(name, None)


def import_modules(names: list[str]) -> None:
    """Import the modules whose ``@task`` functions the worker should know (``TASKSCHED_IMPORTS``).

    Only ever called with names from the worker's own configuration, never with request data.
    """
    for module in names:
        try:
            importlib.import_module(module)
        except Exception as exc:
            # Any error while importing (a typo, or the module's own code failing) stops start-up with
            # the module named, so a misconfigured worker does not run with half of its tasks missing.
            raise RegistryError(
                f"cannot import task module {module!r} (from TASKSCHED_IMPORTS / --import): "
                f"{type(exc).__name__}: {exc}"
            ) from exc


@dataclass(frozen=True)
class RunContext:
    """What a task function knows about the run executing it; see ``current_run()``."""

    run_id: int
    task_id: int
    task_name: str
    attempt: int
    # The run's cancellation flag: set on cancel and on timeout. A function running in a thread cannot
    # be interrupted, so long loops should poll it and return early.
    cancelled: threading.Event
    # Writes to the run's output buffer. A callable rather than the buffer itself keeps this public
    # module free of worker imports (the worker's executors import this module).
    _write: Callable[[str], None] = field(repr=False)

    def log(self, text: str) -> None:
        """Append a line to the run's output (visible live in the UI)."""
        self._write(text if text.endswith("\n") else text + "\n")

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()


_current: ContextVar[RunContext | None] = ContextVar("tasksched_current_run", default=None)


def current_run() -> RunContext:
    """The run executing the calling task function."""
    run = _current.get()
    if run is None:
        raise RuntimeError(
            "current_run() was called outside a tasksched run: it works only inside a @task "
            "function while the worker executes it"
        )
    return run


@contextmanager
def bind_run(run: RunContext) -> Iterator[None]:
    """Make ``run`` the current run for this context (used by the Python executor).

    Threads started with a copy of this context (``asyncio.to_thread``, ``contextvars.copy_context``)
    see it too.
    """
    token = _current.set(run)
    try:
        yield
    finally:
        _current.reset(token)
