"""The ``tasksched`` command: serve, api, scheduler, worker, db, keys, tasks.

Every option also reads ``TASKSCHED_<NAME>`` (``--database-url`` ↔ ``TASKSCHED_DATABASE_URL``);
an option given on the command line wins over the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import click

from tasksched.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def _opt(name: str, help_: str, **kwargs: Any) -> Callable[[F], F]:
    env = "TASKSCHED_" + name.upper().replace("-", "_")
    return click.option(f"--{name}", envvar=env, show_envvar=True, help=help_, **kwargs)


def _flag(name: str, help_: str) -> Callable[[F], F]:
    env = "TASKSCHED_" + name.upper().replace("-", "_")
    return click.option(f"--{name}/--no-{name}", envvar=env, show_envvar=True, default=None, help=help_)


def database_option(func: F) -> F:
    return _opt(
        "database-url", "Database URL: sqlite:///file.db (default sqlite:///tasksched.db) or postgresql://…"
    )(func)


def logging_options(func: F) -> F:
    func = _opt("log-level", "debug, info, warning or error (default info).")(func)
    return _opt("log-format", "json, console or auto (console on a terminal).")(func)


def http_options(func: F) -> F:
    func = _opt("host", "Address to bind (default 127.0.0.1).")(func)
    func = _opt("port", "Port to listen on (default 8000).", type=int)(func)
    func = _opt("cors-origins", "Comma-separated origins allowed by CORS.")(func)
    func = _opt("max-body-bytes", "Largest request body accepted (default 1 MiB).", type=int)(func)
    return _opt("bootstrap-key", "The first admin API key (instead of a generated one).")(func)


def worker_options(func: F) -> F:
    func = _opt("worker-concurrency", "Runs executed at once (default 100).", type=int)(func)
    func = _opt("worker-queues", "Comma-separated queues to serve, or '*' (default 'default').")(func)
    func = _opt("worker-name", "Name recorded on runs (default host:pid).")(func)
    func = _opt("imports", "Comma-separated modules whose @task functions to register.")(func)
    func = _opt("lease-seconds", "How long a claim lasts without a heartbeat (default 30).", type=float)(func)
    func = _opt("drain-seconds", "Grace period for running work on SIGTERM (default 30).", type=float)(func)
    func = _opt("output-limit-bytes", "Output tail kept per run (default 65536).", type=int)(func)
    func = _flag("enable-shell", "Allow shell actions (argv lists, never a shell string).")(func)
    return _flag("http-allow-private", "Let HTTP actions reach private and loopback addresses.")(func)


def settings_from(options: dict[str, Any]) -> Settings:
    given = {k: v for k, v in options.items() if v is not None}
    try:
        return Settings(**given)
    except Exception as exc:
        raise click.UsageError(str(exc)) from exc


def _setup(options: dict[str, Any]) -> Settings:
    from tasksched.observability.logging import configure

    settings = settings_from(options)
    configure(settings.log_level, settings.log_format)
    return settings


def run_async(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is optional
        return asyncio.run(main())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="tasksched")
def main() -> None:
    """tasksched: schedule HTTP calls, commands and Python functions; see every run."""


# -- servers ---------------------------------------------------------------------------------


def _serve(settings: Settings, *, scheduler: bool, worker: bool) -> None:
    import uvicorn

    class _QuietExitServer(uvicorn.Server):
        """Uvicorn re-raises SIGTERM after its shutdown, so the process would end "killed by a
        signal". We handle the signals ourselves: a drained shutdown exits with status 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def request_exit(self) -> None:
            self.should_exit = True

    from tasksched.api.app import Components, create_app

    async def _main() -> None:
        from tasksched.registry import import_modules
        from tasksched.services.context import Context
        from tasksched.services.keys import KeyService
        from tasksched.store import migrate

        # The API refuses python actions naming unknown functions, so it needs the same imports.
        import_modules(settings.import_list)
        ctx = Context.open(settings)
        await migrate.upgrade(ctx.db)
        created = await KeyService(ctx).ensure_bootstrap(settings.bootstrap_key)
        if created is not None and settings.bootstrap_key is None:
            click.echo(
                "\n  Created the first admin API key (shown only now; store it safely):\n\n"
                f"      {created}\n\n  Use it as 'Authorization: Bearer <key>' or to sign in to the web UI.\n",
                err=True,
            )
        app = create_app(settings, ctx=ctx, components=Components(scheduler=scheduler, worker=worker))
        # Everything built so far lives as long as the process: keep it out of the collector's way,
        # so that full collections under load stay short (fewer latency spikes).
        gc.collect()
        gc.freeze()
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(settings.drain_seconds) + 5,
        )
        server = _QuietExitServer(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.request_exit)
        try:
            await server.serve()
        finally:
            await ctx.close()

    run_async(_main)


@main.command()
@database_option
@http_options
@worker_options
@logging_options
def serve(**options: Any) -> None:
    """Everything in one process: API, web UI, scheduler and a worker."""
    _serve(_setup(options), scheduler=True, worker=True)


@main.command()
@database_option
@http_options
@logging_options
@_opt("imports", "Comma-separated modules whose @task functions python actions may name.")
@_flag("enable-shell", "Accept shell actions (the workers must allow them too).")
def api(**options: Any) -> None:
    """The API and web UI only (run schedulers and workers elsewhere)."""
    _serve(_setup(options), scheduler=False, worker=False)


async def _run_until_signal(start: Callable[[], Awaitable[tuple[Awaitable[Any], Callable[[], None]]]]) -> Any:
    runner, stop = await start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)
    return await runner


@main.command()
@database_option
@logging_options
def scheduler(**options: Any) -> None:
    """The scheduler only: fires due slots into runs. Several may run at once."""
    settings = _setup(options)

    async def _main() -> None:
        from tasksched.runtime import start_relay
        from tasksched.scheduler.loop import Scheduler
        from tasksched.services.context import Context
        from tasksched.store import migrate

        ctx = Context.open(settings)
        await migrate.upgrade(ctx.db)
        relay_stop = await start_relay(ctx)
        sched = Scheduler(ctx)

        async def start() -> tuple[Awaitable[Any], Callable[[], None]]:
            return sched.run(), sched.stop

        try:
            await _run_until_signal(start)
        finally:
            if relay_stop:
                relay_stop()
            await ctx.close()

    run_async(_main)


@main.command()
@database_option
@worker_options
@logging_options
@click.option("--burst", is_flag=True, help="Run what is queued now, then exit.")
def worker(burst: bool, **options: Any) -> None:
    """A worker only: claims queued runs and executes them. SIGTERM drains gracefully."""
    settings = _setup(options)

    async def _main() -> Any:
        from tasksched.registry import import_modules
        from tasksched.runtime import start_relay
        from tasksched.services.context import Context
        from tasksched.store import migrate
        from tasksched.worker.executors import ExecutorSet
        from tasksched.worker.loop import Worker

        import_modules(settings.import_list)
        ctx = Context.open(settings)
        await migrate.upgrade(ctx.db)
        relay_stop = await start_relay(ctx)
        executors = ExecutorSet(settings)
        wrk = Worker(ctx, executors, queues=settings.queue_list, burst=burst)

        async def start() -> tuple[Awaitable[Any], Callable[[], None]]:
            return wrk.run(), wrk.stop

        try:
            return await _run_until_signal(start)
        finally:
            await executors.aclose()
            if relay_stop:
                relay_stop()
            await ctx.close()

    stats = run_async(_main)
    if burst:
        click.echo(
            json.dumps({"claimed": stats.claimed, "finished": stats.finished, "by_status": stats.by_status})
        )


# -- database --------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@database_option
def db_upgrade(**options: Any) -> None:
    """Apply migrations up to the newest schema."""
    settings = settings_from(options)

    async def _main() -> str | None:
        from tasksched.store.engine import connect
        from tasksched.store.migrate import current_revision, upgrade

        database = connect(settings.database_url)
        try:
            await upgrade(database)
            return await current_revision(database)
        finally:
            await database.dispose()

    click.echo(f"schema at revision {run_async(_main)}")


@db.command("current")
@database_option
def db_current(**options: Any) -> None:
    """Show the schema revision and whether it is the newest."""
    settings = settings_from(options)

    async def _main() -> str | None:
        from tasksched.store.engine import connect
        from tasksched.store.migrate import current_revision

        database = connect(settings.database_url)
        try:
            return await current_revision(database)
        finally:
            await database.dispose()

    from tasksched.store.migrate import head_revision

    current, head = run_async(_main), head_revision()
    click.echo(
        f"current: {current}\nnewest:  {head}" + ("" if current == head else "\nrun `tasksched db upgrade`")
    )


# -- keys ------------------------------------------------------------------------------------


def _with_services(settings: Settings, body: Callable[[Any], Awaitable[Any]]) -> Any:
    async def _main() -> Any:
        from tasksched.services.context import Context
        from tasksched.services.keys import KeyService
        from tasksched.store import migrate

        ctx = Context.open(settings)
        try:
            await migrate.upgrade(ctx.db)
            return await body(KeyService(ctx))
        finally:
            await ctx.close()

    return run_async(_main)


@main.group()
def keys() -> None:
    """API keys (directly on the database)."""


@keys.command("create")
@database_option
@click.option("--name", required=True, help="What the key is for.")
@click.option(
    "--role", type=click.Choice(["admin", "operator", "viewer"]), default="viewer", show_default=True
)
def keys_create(name: str, role: str, **options: Any) -> None:
    """Create a key and print it (it is shown only once)."""
    from tasksched.domain.principals import CLI, Role

    async def body(service: Any) -> str:
        _, value = await service.create(name, Role(role), actor=CLI)
        return str(value)

    click.echo(_with_services(settings_from(options), body))


@keys.command("list")
@database_option
def keys_list(**options: Any) -> None:
    """List keys (never their values)."""

    async def body(service: Any) -> list[Any]:
        return list(await service.list())

    for key in _with_services(settings_from(options), body):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.id:>4}  {key.prefix}…  {key.role.value:<8}  {state:<18}  {key.name}")


@keys.command("revoke")
@database_option
@click.argument("key_id", type=int)
def keys_revoke(key_id: int, **options: Any) -> None:
    """Revoke a key by its id."""

    from tasksched.domain.principals import CLI

    async def body(service: Any) -> None:
        await service.revoke(key_id, actor=CLI)

    try:
        _with_services(settings_from(options), body)
    except Exception as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked key {key_id}")


from tasksched.client_cli import tasks  # noqa: E402  (registered last: it only talks HTTP)

main.add_command(tasks)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
