"""Processes are assembled in one place: `cli → runtime → {api, scheduler, worker}`, never back."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import httpx

from tasksched.api.app import create_app
from tasksched.config import Settings
from tasksched.services.context import Context
from tasksched.store import migrate

SRC = Path(__file__).resolve().parents[2] / "src" / "tasksched"


def _imports(package: str) -> dict[str, set[str]]:
    """Every tasksched module each file of ``package`` imports (at any depth, lazily or not)."""
    found: dict[str, set[str]] = {}
    root = SRC / package if (SRC / package).is_dir() else SRC
    files = sorted(root.rglob("*.py")) if root != SRC else [SRC / f"{package}.py"]
    for path in files:
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(SRC))] = {n for n in names if n.startswith("tasksched")}
    return found


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in _imports(package).items()
        for name in sorted(names)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_the_http_layer_assembles_nothing() -> None:
    assert (
        _offenders("api", ("tasksched.runtime", "tasksched.scheduler", "tasksched.worker", "tasksched.cli"))
        == []
    )


def test_the_loops_know_neither_the_api_nor_the_assembly() -> None:
    forbidden = ("tasksched.api", "tasksched.runtime", "tasksched.cli")
    assert _offenders("scheduler", forbidden) == []
    assert _offenders("worker", forbidden) == []
    assert _offenders("runtime", ("tasksched.cli",)) == []


async def test_a_standalone_app_opens_and_closes_its_own_database_and_starts_nothing(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'alone.db'}")
    ctx = Context.open(settings)
    await migrate.upgrade(ctx.db)
    await ctx.close()
    app = create_app(settings)
    before = asyncio.all_tasks()
    async with app.router.lifespan_context(app):
        started = {t.get_name() for t in asyncio.all_tasks() - before}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/readyz")).json()["status"] == "ready"
    assert not {name for name in started if name.startswith("tasksched-")}
