"""The ``@task`` decorator: the registry of Python functions that ``python`` actions may call.

A ``python`` action names a function by the name it was registered under, never by an import path:
the API refuses names that are not registered, and nothing here imports a module named by a request.
The worker imports the modules listed in ``TASKSCHED_IMPORTS`` (or ``--import``) at start-up, which
runs their ``@task`` decorators.

Inside a run, a function reaches its run through ``current_run()``: ids, attempt, a cancellation flag
to poll and ``log()`` to write to the run's output.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from pydantic import ValidationError

from tasksched.domain.actions import PythonAction
from tasksched.errors import TaskschedError

__all__ = [
    "Registered",
    "RegistryError",
    "Retry",
    "RunContext",
    "current_run",
    "get_function",
    "import_modules",
    "registered_names",
    "task",
    "unregister",
]

F = TypeVar("F", bound=Callable[..., Any])


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


def _register(func: Callable[..., Any], name: str | None) -> None:
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


@overload
def task(func: F, /) -> F: ...
@overload
def task(*, name: str | None = None) -> Callable[[F], F]: ...
def task(func: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Register a function for ``python`` actions; the function is returned unchanged.

    Use as ``@task`` (the name is ``module.qualname``) or ``@task(name="reports.nightly")``.
    Works on plain and ``async`` functions.
    """
    if func is not None:
        _register(func, None)
        return func

    def decorate(f: F) -> F:
        _register(f, name)
        return f

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
