"""The import graph keeps the layers honest.

``cli → runtime → {api, scheduler, worker} → services → {store, domain, events}``: nothing imports a
layer above it, the API reaches data only through services, only store/ speaks SQL and only api/
speaks HTTP-framework. Every import counts, including those inside functions (a lazy import is still
a dependency). The test reads the source, so it checks the code as written, not what happened to load.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "tasksched"

# What each layer must not import (tasksched layers by their first package name, or outside libraries).
FORBIDDEN: dict[str, set[str]] = {
    "domain": {"store", "services", "events", "api", "scheduler", "worker", "runtime", "cli", "sqlalchemy", "fastapi", "starlette"},
    "store": {"services", "events", "api", "scheduler", "worker", "runtime", "cli", "fastapi", "starlette"},
    "events": {"store", "services", "api", "scheduler", "worker", "runtime", "cli", "sqlalchemy", "fastapi", "starlette"},
    "services": {"api", "scheduler", "worker", "runtime", "cli", "sqlalchemy", "fastapi", "starlette"},
    "api": {"store", "scheduler", "worker", "notifier", "runtime", "cli", "sqlalchemy"},
    "scheduler": {"store", "api", "worker", "notifier", "runtime", "cli", "sqlalchemy", "fastapi", "starlette"},
    "worker": {"store", "api", "scheduler", "notifier", "runtime", "cli", "sqlalchemy", "fastapi", "starlette"},
    "notifier": {"store", "api", "scheduler", "worker", "runtime", "cli", "sqlalchemy", "fastapi", "starlette"},
    "runtime": {"cli"},
    # The Python producer (fn.defer) is an entry point like the CLI: it may assemble a database context.
    "producer": {"api", "scheduler", "worker", "notifier", "cli", "sqlalchemy", "fastapi", "starlette"},
}  # fmt: skip


def _layer(module: str) -> str:
    """``tasksched.store.tasks`` → ``store``; ``sqlalchemy.ext.asyncio`` → ``sqlalchemy``."""
    parts = module.split(".")
    if parts[0] == "tasksched":
        return parts[1] if len(parts) > 1 else ""
    return parts[0]


def _imports(path: Path, *, root: Path = PACKAGE.parent) -> Iterator[tuple[int, str]]:
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name
            # `from tasksched import store` imports a layer by its name
            for alias in node.names:
                yield node.lineno, f"{name}.{alias.name}"


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _own_layer(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def test_the_package_has_the_layers_this_test_knows() -> None:
    layers = {_own_layer(p) for p in _sources()}
    assert set(FORBIDDEN) - {"runtime"} <= layers


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_crosses_a_layer_upward(path: Path) -> None:
    forbidden = FORBIDDEN.get(_own_layer(path), set())
    wrong = [f"line {line}: {name}" for line, name in _imports(path) if _layer(name) in forbidden]
    assert not wrong, f"{path.relative_to(PACKAGE)} imports across its layer: {wrong}"


def test_the_rules_catch_upward_and_lazy_imports(tmp_path: Path) -> None:
    # The check itself must be able to fail: an upward import inside a function is still caught,
    # and a relative import is resolved before it is judged.
    probe = tmp_path / "tasksched" / "api" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "def f():\n    from ..worker.loop import Worker\n    import sqlalchemy\n    from tasksched import store\n"
    )
    names = {name for _, name in _imports(probe, root=tmp_path)}
    assert {"tasksched.worker.loop", "sqlalchemy", "tasksched.store"} <= names
    assert {"worker", "sqlalchemy", "store"} <= {_layer(n) for n in names} & FORBIDDEN["api"]
