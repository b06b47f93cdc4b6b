"""``tasksched tasks …``: manage tasks over the REST API of a running server.

These speak HTTP only (``client.py``): the server checks the key and records the change, so the
writer of each change is the API key given, not the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from tasksched.client import ApiError, Client

T = TypeVar("T")

url_option = click.option(
    "--url", envvar="TASKSCHED_URL", show_envvar=True, default="http://127.0.0.1:8000", show_default=True,
    help="Base URL of the tasksched server.",
)  # fmt: skip
key_option = click.option(
    "--api-key", envvar="TASKSCHED_API_KEY", show_envvar=True, help="API key (Authorization: Bearer)."
)


def _client(url: str, api_key: str | None) -> Client:
    # Imported here: the other commands (a worker's start) need not load the HTTP client.
    from tasksched.client import Client

    return Client(url, api_key)


def _fail(exc: ApiError) -> click.ClickException:
    """One line: the problem's detail, then each field named with its message."""
    parts = [str(exc)]
    for error in exc.problem.get("errors", []):
        parts.append(f"{error.get('field')}: {error.get('message')}")
    return click.ClickException("; ".join(parts))


def _call(url: str, api_key: str | None, request: Callable[[Client], T]) -> T:
    """``request`` on a client of the server at ``url``; a refusal or an unreachable server is a
    user error (one line), not a traceback."""
    import httpx

    from tasksched.client import ApiError

    try:
        with _client(url, api_key) as client:
            return request(client)
    except ApiError as exc:
        raise _fail(exc) from exc
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the server at {url}: {exc or type(exc).__name__}") from exc


@click.group()
def tasks() -> None:
    """Tasks on a running server (uses the REST API)."""


@tasks.command("list")
@url_option
@key_option
@click.option("--q", help="Search in name and description.")
@click.option("--tag")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON page.")
def list_(url: str, api_key: str | None, q: str | None, tag: str | None, limit: int, as_json: bool) -> None:
    """List tasks."""
    page = _call(url, api_key, lambda c: c.list_tasks(q=q, tag=tag, limit=limit))
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for task in page["items"]:
        last = task.get("last_run") or {}
        state = "enabled" if task["enabled"] else "paused"
        click.echo(
            f"{task['id']:>6}  {task['name'][:40]:<40}  {state:<8}  next={task.get('next_run_at') or '-':<27}  "
            f"last={last.get('status', '-')}"
        )
    click.echo(f"({len(page['items'])} of {page['total']})")


@tasks.command("create")
@url_option
@key_option
@click.option("-f", "--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="A task as JSON or YAML (see the API's task shape).")  # fmt: skip
def create(url: str, api_key: str | None, path: Path) -> None:
    """Create a task from a JSON or YAML file."""
    import yaml

    try:
        spec: Any = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path} is not JSON or YAML: {exc}") from exc
    if not isinstance(spec, dict):
        raise click.ClickException(f"{path} must hold one task (a mapping)")
    # Over HTTP: the server records the API key as the actor of this write.
    task = _call(url, api_key, lambda c: c.create_task(spec))
    click.echo(f"created task {task['id']} ({task['name']}), next run {task.get('next_run_at') or 'none'}")


@tasks.command("run")
@url_option
@key_option
@click.argument("task_id", type=int)
def run(url: str, api_key: str | None, task_id: int) -> None:
    """Run a task now."""
    queued = _call(url, api_key, lambda c: c.run_task(task_id))
    click.echo(f"queued run {queued['id']} of task {task_id}")
