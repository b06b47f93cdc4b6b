"""The API reaches data only through services: no module under api/ imports the store."""

from __future__ import annotations

import ast
from pathlib import Path

import tasksched.api

API_DIR = Path(tasksched.api.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):  # imports inside functions count too
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_api_module_imports_the_store() -> None:
    modules = sorted(API_DIR.rglob("*.py"))
    assert len(modules) > 5  # the walk found the package
    offenders = {
        str(path.relative_to(API_DIR)): sorted(
            m for m in imported_modules(path) if m.startswith("tasksched.store")
        )
        for path in modules
    }
    assert {name: found for name, found in offenders.items() if found} == {}
