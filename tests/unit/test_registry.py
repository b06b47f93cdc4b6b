"""The @task registry: names, duplicates, reloads, imports, and the run context outside a run."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasksched.registry import (
    RegistryError,
    Retry,
    current_run,
    get_function,
    import_modules,
    registered_names,
    task,
    unregister,
)


@task
def nightly_report(day: str) -> str:
    return f"report for {day}"


@task(name="registry_tests.cleanup")
async def cleanup() -> int:
    return 7


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for throw-away task modules; forgets them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    names_before = set(registered_names())
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]
    for name in set(registered_names()) - names_before:
        unregister(name)


def test_default_name_is_module_and_qualname() -> None:
    entry = get_function(f"{__name__}.nightly_report")
    assert entry is not None
    assert entry.func is nightly_report
    assert not entry.is_async
    assert nightly_report("mon") == "report for mon"  # still an ordinary function


async def test_explicit_name_and_async_function() -> None:
    entry = get_function("registry_tests.cleanup")
    assert entry is not None
    assert entry.is_async
    assert entry.origin == f"{__name__}.cleanup"
    assert await cleanup() == 7
    assert "registry_tests.cleanup" in registered_names()
    assert registered_names() == sorted(registered_names())


def test_unknown_name_is_none() -> None:
    assert get_function("registry_tests.never_registered") is None


def test_two_functions_cannot_share_a_name() -> None:
    def first() -> None: ...

    def second() -> None: ...

    task(name="registry_tests.shared")(first)
    try:
        with pytest.raises(RegistryError, match="already registered") as caught:
            task(name="registry_tests.shared")(second)
        assert "first" in str(caught.value)
        assert "second" in str(caught.value)
        entry = get_function("registry_tests.shared")
        assert entry is not None
        assert entry.func is first
        task(name="registry_tests.shared")(first)  # the same function again is fine
    finally:
        unregister("registry_tests.shared")


def test_reloading_a_module_replaces_its_functions(module_dir: Path) -> None:
    (module_dir / "reg_reload_mod.py").write_text(
        textwrap.dedent(
            """
            from tasksched import registry

            @registry.task
            def job():
                return 1
            """
        )
    )
    module = importlib.import_module("reg_reload_mod")
    old = module.job
    module = importlib.reload(module)
    assert module.job is not old
    entry = get_function("reg_reload_mod.job")
    assert entry is not None
    assert entry.func is module.job


def test_nested_functions_need_an_explicit_name() -> None:
    def inner() -> None: ...

    with pytest.raises(RegistryError, match="explicit name="):
        task(inner)
    with pytest.raises(RegistryError, match="dotted name"):
        task(name="not a name")(inner)


def test_import_modules_registers_their_tasks(module_dir: Path) -> None:
    (module_dir / "reg_import_mod.py").write_text(
        "from tasksched.registry import task\n\n@task(name='imported.job')\ndef job():\n    return 2\n"
    )
    import_modules(["reg_import_mod"])
    entry = get_function("imported.job")
    assert entry is not None
    assert entry.func() == 2


def test_import_modules_names_a_missing_module(module_dir: Path) -> None:
    with pytest.raises(RegistryError, match=r"'reg_no_such_module'.*TASKSCHED_IMPORTS"):
        import_modules(["reg_no_such_module"])


def test_import_modules_names_a_module_that_fails(module_dir: Path) -> None:
    (module_dir / "reg_broken_mod.py").write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(RegistryError, match=r"'reg_broken_mod'.*RuntimeError: boom at import"):
        import_modules(["reg_broken_mod"])


def test_current_run_outside_a_run_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="outside a tasksched run"):
        current_run()


def test_retry_carries_its_delay() -> None:
    assert Retry(delay=5).delay == 5.0
    assert Retry().delay is None
    assert str(Retry(reason="upstream busy")) == "upstream busy"
    with pytest.raises(ValueError, match="negative"):
        Retry(delay=-1)
