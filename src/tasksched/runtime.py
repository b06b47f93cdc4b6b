"""Assembling a tasksched process: the one place that builds, runs and closes what a process runs.

``run_process(settings, Roles(...))`` is every long-running command (``serve``, ``api``,
``scheduler``, ``worker``): it binds the HTTP port (first, so a taken port fails before anything
else), opens the database (reachable, schema migrated), ensures the bootstrap key, starts the event
relay, then the scheduler, the worker and the HTTP server this process has, handles SIGTERM/SIGINT
by stopping them all (the worker drains), and closes the relay and the database last.
``database(settings)`` gives the one-shot commands (``keys …``) a context on a current schema.

Imports go ``cli → runtime → {api, scheduler, worker, notifier}``; each part is imported only by a process
that runs it, so a worker never loads the API (FastAPI, uvicorn) or the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import structlog

from tasksched.config import Settings
from tasksched.errors import DatabaseUnavailable, InvalidInput, TaskschedError

if TYPE_CHECKING:
    from tasksched.events.local import LocalRelay
    from tasksched.events.pg import PgRelay
    from tasksched.events.redis import RedisRelay
    from tasksched.services.context import Context
    from tasksched.worker.loop import WorkerStats

log = structlog.get_logger("tasksched")
T = TypeVar("T")

# What opening a database does about its schema: migrate it, require it current, or leave it be.
Schema = Literal["upgrade", "require", "any"]


class CannotStart(TaskschedError):
    """The process cannot start as configured (a port taken, a schema that is not current)."""

    status = 503
    title = "Cannot start"


@dataclass(frozen=True)
class Roles:
    """What one process runs."""

    http: bool = False
    scheduler: bool = False
    worker: bool = False
    # The worker runs what is queued now, then the process ends.
    burst: bool = False
    # Delivers notices (the ``notifier`` command); other processes follow TASKSCHED_NOTIFIER.
    notifier: bool = False

    def runs_notifier(self, setting: str) -> bool:
        """``auto``: where a scheduler runs, since late-start notices must go out when no worker
        is alive; ``on``/``off`` as said. A burst worker never delivers (it ends when idle)."""
        if self.notifier or setting == "on":
            return not self.burst
        return setting == "auto" and self.scheduler


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the process's main coroutine, on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(main)
    return uvloop.run(main)


# -- the database ----------------------------------------------------------------------------


async def open_context(settings: Settings, *, schema: Schema) -> Context:
    """A context on a database that answers, with its schema upgraded or required to be current."""
    # Imported here, as every part below: `tasksched --help` or `tasks …` need no database code.
    from tasksched.services.context import Context
    from tasksched.store import health, migrate

    missing = health.missing_sqlite_file(settings.database_url) if schema != "upgrade" else None
    if missing is not None:  # opening it would create an empty file (a mistyped path, most likely)
        raise CannotStart(f"there is no database file {missing}; `tasksched db upgrade` creates one")
    try:
        ctx = Context.open(settings)
    except ValueError as exc:  # an unsupported URL: the engine's message says which and why
        raise InvalidInput(str(exc), field="database_url") from exc
    except OSError as exc:  # a SQLite file whose folder cannot be created
        raise DatabaseUnavailable(
            f"cannot use the database {health.safe_url(settings.database_url)}: {exc}"
        ) from exc
    try:
        await health.ping(ctx.db)
        if schema != "any":
            # One query: Alembic and the migration scripts load only when the schema must change.
            current, head = await migrate.current_revision(ctx.db), migrate.head_revision()
            where = health.safe_url(settings.database_url)
            if current is not None and current not in migrate.revisions():
                raise CannotStart(
                    f"the database {where} has schema {current}, which this version (schema {head}) "
                    "does not know: it was migrated by a newer tasksched"
                )
            if current != head and schema == "upgrade":
                await migrate.upgrade(ctx.db)
            elif current != head:
                state = "has no tasksched schema" if current is None else f"has schema {current}"
                raise CannotStart(
                    f"the database {where} {state}; this version needs {head}: run `tasksched db upgrade`"
                )
    except BaseException:
        await ctx.close()
        raise
    return ctx


@contextlib.asynccontextmanager
async def database(settings: Settings, *, schema: Schema = "require") -> AsyncIterator[Context]:
    """A context, closed on exit."""
    ctx = await open_context(settings, schema=schema)
    try:
        yield ctx
    finally:
        await ctx.close()


@contextlib.asynccontextmanager
async def one_shot(settings: Settings, *, schema: Schema = "require") -> AsyncIterator[Context]:
    """The database for a one-shot command (``keys …``, ``db …``), which logs nothing: what it
    prints is its answer, or the one ``Error: …`` line of its failure."""
    from tasksched.observability.logging import silence

    silence()
    async with database(settings, schema=schema) as ctx:
        yield ctx


async def start_relay(ctx: Context) -> Callable[[], None] | None:
    """Carry events between processes: through Redis when ``TASKSCHED_REDIS_URL`` is set, else on
    PostgreSQL with LISTEN/NOTIFY (on ``TASKSCHED_LISTEN_URL`` when set), and on a SQLite file
    through Unix datagram sockets beside it (``events/local.py``). None for an in-memory SQLite
    database, and behind PgBouncer in transaction mode with neither (LISTEN cannot work there:
    warned)."""
    from tasksched.store import health

    settings = ctx.settings
    relay: PgRelay | RedisRelay | LocalRelay
    via = "redis"
    if settings.redis_url:
        from tasksched.events.redis import RedisRelay

        relay = RedisRelay(settings.redis_url, ctx.bus, channel=f"{settings.redis_prefix}events")
    elif ctx.db.is_sqlite:
        database_file = health.sqlite_file(ctx.db.url)
        if database_file is None:
            return None  # in memory: one process only
        from tasksched.events.local import LocalRelay

        relay, via = LocalRelay(database_file, ctx.bus), "sockets"
    elif settings.database_pooling == "transaction" and not settings.listen_url:
        log.warning(
            "no event relay: LISTEN does not work through PgBouncer in transaction mode, so processes do "
            "not wake each other (wake-ups wait for the safety polls, up to 5 s); set "
            "TASKSCHED_LISTEN_URL to a direct PostgreSQL URL or TASKSCHED_REDIS_URL"
        )
        return None
    else:
        from tasksched.events.pg import PgRelay

        relay, via = PgRelay(settings.listen_url or ctx.db.url, ctx.bus), "postgresql"
    await relay.start()
    ctx.bus.attach_relay(relay)
    log.info("event relay started", via=via)
    return relay.stop


# -- the parts of a process ------------------------------------------------------------------


@dataclass
class _Part:
    name: str
    main: Callable[[], Coroutine[Any, Any, Any]]
    stop: Callable[[], None]


def _listen(settings: Settings) -> socket.socket:
    """The HTTP socket, bound now: a taken port or a wrong address fails before anything else."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise CannotStart(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CannotStart(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
    return sock


def _serve_process_metrics(settings: Settings) -> None:
    """A scheduler or worker without the API: its own counters at :metrics_port/metrics (a thread).

    Only this process's counters; the cluster-wide gauges come from an API process's /metrics.
    """
    from prometheus_client import start_http_server

    from tasksched.observability.metrics import REGISTRY

    try:
        start_http_server(settings.metrics_port or 0, addr=settings.host, registry=REGISTRY)
    except OSError as exc:
        raise CannotStart(f"cannot serve metrics on {settings.host}:{settings.metrics_port}: {exc}") from exc
    log.info("serving metrics", port=settings.metrics_port)


def _discard_metrics() -> None:
    """A process without the API and without a metrics port: nothing can read its counters, so
    it keeps none and never imports prometheus_client (issue 10, point 5: a worker's start-up)."""
    from tasksched.observability import metrics

    metrics.discard()


def _http_part(ctx: Context, sock: socket.socket) -> _Part:
    import uvicorn

    from tasksched.api.app import create_app

    class _Server(uvicorn.Server):
        """Signals are ours (uvicorn would re-raise SIGTERM after its shutdown, so the process
        would end "killed by a signal" instead of exiting 0 after a drain)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        create_app(ctx.settings, ctx=ctx),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(ctx.settings.drain_seconds) + 5,
    )
    server = _Server(config)

    async def main() -> None:
        await server.serve(sockets=[sock])
        if not server.started and not server.should_exit:
            raise CannotStart("the HTTP server did not start (see the log above)")

    def stop() -> None:
        server.should_exit = True

    return _Part("http", main, stop)


def _scheduler_part(ctx: Context) -> _Part:
    from tasksched.scheduler.loop import Scheduler

    scheduler = Scheduler(ctx)
    return _Part("scheduler", scheduler.run, scheduler.stop)


def _maintenance_part(ctx: Context) -> _Part:
    from tasksched.scheduler.maintenance import Maintenance

    maintenance = Maintenance(ctx)
    return _Part("maintenance", maintenance.run, maintenance.stop)


def _notifier_part(ctx: Context) -> _Part:
    from tasksched.notifier.loop import Notifier

    notifier = Notifier(ctx)
    return _Part("notifier", notifier.run, notifier.stop)


def _worker_part(ctx: Context, *, burst: bool) -> _Part:
    from tasksched.worker.executors import ExecutorSet
    from tasksched.worker.loop import Worker

    executors = ExecutorSet(ctx.settings)
    worker = Worker(ctx, executors, queues=ctx.settings.queue_list, burst=burst)

    async def main() -> WorkerStats:
        try:
            return await worker.run()
        finally:
            await executors.aclose()

    return _Part("worker", main, worker.stop)


async def _run_parts(parts: list[_Part]) -> dict[str, Any]:
    """Run the parts until a signal, or until one of them ends (a burst worker, a failure): then
    stop the others and wait for each. Returns each part's result; raises the first failure."""
    tasks = {part.name: asyncio.create_task(part.main(), name=f"tasksched-{part.name}") for part in parts}

    def stop_all() -> None:
        for part in parts:
            part.stop()

    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop_all)
    try:
        await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        stop_all()
        await asyncio.wait(tasks.values())
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    for task in tasks.values():
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return {name: task.result() for name, task in tasks.items() if not task.cancelled()}


# How long after a process's parts start its start-up objects are frozen out of the collector.
FREEZE_AFTER_SECONDS = 1.0


def _freeze_heap() -> None:
    gc.collect()
    gc.freeze()


async def run_process(
    settings: Settings, roles: Roles, *, announce_key: Callable[[str], None] | None = None
) -> WorkerStats | None:
    """Run a process with ``roles`` until SIGTERM/SIGINT (or, in burst mode, until the queue is
    done); returns the worker's figures when it has a worker."""
    from tasksched.observability.logging import configure
    from tasksched.registry import import_modules

    configure(settings.log_level, settings.log_format)
    sock = _listen(settings) if roles.http else None
    try:
        # The API refuses python actions naming unknown functions, so it needs the imports too.
        if roles.http or roles.worker:
            import_modules(settings.import_list)
        async with database(settings, schema="upgrade") as ctx:
            # The processes that read and write secrets (a notifier reads channel secrets).
            if roles.http or roles.worker or roles.runs_notifier(settings.notifier):
                from tasksched.services.sealing import check_keys

                await check_keys(ctx)
            if roles.http:
                from tasksched.services.keys import KeyService

                created = await KeyService(ctx).ensure_bootstrap(settings.bootstrap_key)
                if created is not None and settings.bootstrap_key is None and announce_key is not None:
                    announce_key(created)
            stop_relay = await start_relay(ctx)
            if sock is None and settings.metrics_port is not None:
                _serve_process_metrics(settings)
            elif sock is None:
                _discard_metrics()
            try:
                parts = []
                if roles.scheduler:
                    parts.append(_scheduler_part(ctx))
                    # Pruning old runs and scheduled backups: upkeep every scheduler shares.
                    parts.append(_maintenance_part(ctx))
                if roles.worker:
                    parts.append(_worker_part(ctx, burst=roles.burst))
                if roles.runs_notifier(settings.notifier):
                    parts.append(_notifier_part(ctx))
                if sock is not None:
                    parts.append(_http_part(ctx, sock))
                # Everything built at start lives as long as the process: keep it out of the
                # collector's way, so that full collections under load stay short. Shortly after
                # the parts start, not before: the full collection that precedes the freeze takes
                # ~50 ms, which a worker would otherwise spend before its first claim (issue 10,
                # point 5). Never run by a process that ends sooner (a burst worker).
                freezing = asyncio.get_running_loop().call_later(FREEZE_AFTER_SECONDS, _freeze_heap)
                try:
                    results = await _run_parts(parts)
                finally:
                    freezing.cancel()
            finally:
                if stop_relay is not None:
                    stop_relay()
    finally:
        if sock is not None:
            sock.close()
    stats: WorkerStats | None = results.get("worker")
    return stats


# -- several worker processes from one parent (``worker --processes N``) -------------------------

# A worker process that dies is started again after this many seconds, doubled at each death in a
# row up to the maximum; one that lived for RESTART_RESET_SECONDS starts its slot's count afresh.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
RESTART_RESET_SECONDS = 60.0
_SUPERVISED = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT)


class WorkerProcessesFailed(TaskschedError):
    """Worker processes of a ``--processes`` parent ended with an error while it stopped."""

    title = "Worker processes failed"


@dataclass
class _Child:
    slot: int
    pid: int
    stats_fd: int  # the read end of the pipe the child writes its figures to as it ends
    started: float


async def _prepare_workers(settings: Settings) -> None:
    """What one worker would check at start, done once in the parent: the database answers, its
    schema is current (migrated if need be), the secret keys fit. Closed again before any fork."""
    from tasksched.services.sealing import check_keys

    async with database(settings, schema="upgrade") as ctx:
        await check_keys(ctx)


def _preload(settings: Settings) -> None:
    """Import, in the parent, what the children will run, so its pages are shared after the fork."""
    import ctypes  # noqa: F401  (the children's parent-death signal)
    import json  # noqa: F401

    import tasksched.worker.executors.python
    import tasksched.worker.loop
    from tasksched.store import health

    if settings.redis_url:
        import tasksched.events.redis
    elif health.sqlite_file(settings.database_url) is not None:
        import tasksched.events.local
    else:
        import tasksched.events.pg  # noqa: F401
    if settings.metrics_port is not None:
        import prometheus_client  # noqa: F401
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401


def _die_with_parent() -> None:
    """Linux: the kernel sends this process SIGTERM (a graceful drain) when its parent dies."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):  # pragma: no cover - Linux only
        return
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _child_settings(settings: Settings, slot: int) -> Settings:
    """A child's own name (recorded on its runs) and metrics port."""
    if "worker_name" in settings.model_fields_set:
        name = f"{settings.worker_name}-{slot + 1}"
    else:
        name = f"{socket.gethostname()}:{os.getpid()}"
    port = None if settings.metrics_port is None else settings.metrics_port + slot
    return settings.model_copy(update={"worker_name": name, "metrics_port": port, "worker_processes": 1})


async def _worker_child(settings: Settings, *, burst: bool) -> WorkerStats:
    """One forked worker: its own event loop (``run``), database pool and relay, opened here."""
    async with database(settings, schema="require") as ctx:
        stop_relay = await start_relay(ctx)
        if settings.metrics_port is not None:
            _serve_process_metrics(settings)
        else:
            _discard_metrics()
        try:
            parts = [_worker_part(ctx, burst=burst)]
            results = await _run_parts(parts)
        finally:
            if stop_relay is not None:
                stop_relay()
    stats: WorkerStats = results["worker"]
    return stats


def _child_main(settings: Settings, slot: int, *, burst: bool, stats_fd: int, parent: int) -> int:
    import json

    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above
        return 1
    stats = run(_worker_child(_child_settings(settings, slot), burst=burst))
    payload = {"claimed": stats.claimed, "finished": stats.finished, "by_status": stats.by_status}
    os.write(stats_fd, json.dumps(payload).encode())
    return 0


def _fork_child(settings: Settings, slot: int, *, burst: bool, mask: set[int | signal.Signals]) -> _Child:
    import time

    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code (os._exit)
        code = 1
        try:
            os.close(read_fd)
            # Until its loop takes them over, SIGTERM/SIGINT end a child that has nothing to drain.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            gc.enable()  # for what the child allocates; the parent's objects stay frozen
            code = _child_main(settings, slot, burst=burst, stats_fd=write_fd, parent=parent)
        except TaskschedError as exc:
            log.error("worker process cannot run", error=exc.detail)
        except BaseException:
            log.exception("worker process failed")
        finally:
            import sys

            for stream in (sys.stdout, sys.stderr):  # os._exit leaves Python's buffers unwritten
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    os.close(write_fd)
    log.info("worker process started", pid=pid, slot=slot + 1)
    return _Child(slot, pid, read_fd, time.monotonic())


def _read_stats(child: _Child) -> WorkerStats | None:
    import json

    from tasksched.worker.loop import WorkerStats

    chunks = []
    while chunk := os.read(child.stats_fd, 65536):
        chunks.append(chunk)
    os.close(child.stats_fd)
    try:
        data = json.loads(b"".join(chunks))
    except ValueError:  # none written (it died), or cut off by a kill in the middle of the write
        return None
    return WorkerStats(claimed=data["claimed"], finished=data["finished"], by_status=data["by_status"])


def run_worker_processes(settings: Settings, *, burst: bool) -> WorkerStats:
    """``worker --processes N``: import once, fork N workers, supervise them until they have ended.

    Everything a worker imports (the task modules of TASKSCHED_IMPORTS, the executors, SQLAlchemy,
    the store) is imported here, then frozen out of the collector's reach (``gc.freeze``: a
    collection in a child would otherwise write to every object's header and unshare its page).
    Nothing with a socket or a thread crosses the fork: the parent's one check of the database runs
    on its own event loop, closed before the first fork, and each child opens its loop, pool and relay
    itself. The parent restarts a child that dies (backing off), passes SIGTERM/SIGINT on to the
    children (each drains as a lone worker does) and returns their summed figures once they have all
    ended; with ``burst`` each child ends when the queue is empty.
    """
    import threading
    import time

    from tasksched.observability.logging import configure
    from tasksched.registry import import_modules
    from tasksched.worker.loop import WorkerStats

    if not hasattr(signal, "sigtimedwait") or not hasattr(os, "fork"):  # pragma: no cover - Linux CI
        raise CannotStart("--processes above 1 needs Linux (fork and sigtimedwait); run separate workers")
    # No collection in the parent from here on: a collection frees cycles, and the holes it leaves
    # in pages of long-lived objects are where a child's first allocations go, copying those pages.
    gc.disable()
    configure(settings.log_level, settings.log_format)
    import_modules(settings.import_list)
    run(_prepare_workers(settings))
    _preload(settings)
    # A connection's thread (aiosqlite) ends just after its close: no thread may be copied.
    deadline = time.monotonic() + 2
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    if threading.active_count() > 1:
        log.warning("threads are running before the fork", threads=[t.name for t in threading.enumerate()])
    gc.freeze()

    count = settings.worker_processes
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISED)
    children: dict[int, _Child] = {}
    due: dict[int, float] = {}  # slot → when its restart is due
    deaths: dict[int, int] = {}  # slot → deaths in a row
    total = WorkerStats()
    failed = 0
    stopping = False
    try:
        for slot in range(count):
            child = _fork_child(settings, slot, burst=burst, mask=mask)
            children[child.pid] = child
        log.info("worker processes started", processes=count, parent=os.getpid())
        while children or due:
            if due:
                wait = max(0.0, min(due.values()) - time.monotonic())
                info = signal.sigtimedwait(_SUPERVISED, wait)
            else:
                info = signal.sigwaitinfo(_SUPERVISED)
            if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT):
                if not stopping:
                    log.info("stopping worker processes", signal=signal.Signals(info.si_signo).name)
                stopping = True
                due.clear()
                for child in children.values():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, info.si_signo)
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                ended = children.pop(pid, None)
                if ended is None:
                    continue
                code = os.waitstatus_to_exitcode(status)
                stats = _read_stats(ended)
                if stats is not None:
                    total.claimed += stats.claimed
                    total.finished += stats.finished
                    for key, value in stats.by_status.items():
                        total.by_status[key] = total.by_status.get(key, 0) + value
                # Stopped by the signal passed on before its loop could take it: nothing was running.
                if (code == 0 and burst) or (stopping and code in (0, -signal.SIGTERM, -signal.SIGINT)):
                    log.info("worker process ended", pid=pid, slot=ended.slot + 1)
                    continue
                if stopping:
                    failed += 1
                    log.error("worker process ended with an error", pid=pid, slot=ended.slot + 1, code=code)
                    continue
                lived = time.monotonic() - ended.started
                deaths[ended.slot] = 1 if lived >= RESTART_RESET_SECONDS else deaths.get(ended.slot, 0) + 1
                delay = min(RESTART_MAX_SECONDS, RESTART_FIRST_SECONDS * 2 ** (deaths[ended.slot] - 1))
                how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                log.error(
                    "worker process died; restarting it",
                    pid=pid,
                    slot=ended.slot + 1,
                    how=how,
                    restart_in_seconds=delay,
                )
                due[ended.slot] = time.monotonic() + delay
            now = time.monotonic()
            for slot in [s for s, at in due.items() if at <= now and not stopping]:
                del due[slot]
                child = _fork_child(settings, slot, burst=burst, mask=mask)
                children[child.pid] = child
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if failed:
        raise WorkerProcessesFailed(f"{failed} of the worker processes ended with an error (see the log)")
    log.info("worker processes stopped", claimed=total.claimed, finished=total.finished)
    return total
