"""The long-running commands: ``serve``, ``api``, ``scheduler`` and ``worker``.

Each only says which settings it takes and which roles its process has; ``runtime.run_process``
builds and runs the process.
"""

from __future__ import annotations

import json
from typing import Any

import click

from tasksched import runtime
from tasksched.cli.options import settings_from, settings_options

# The settings each part of a process reads.
# Every process: the database, and the Redis that carries events and counters between processes.
DATABASE = (
    "database_url",
    "database_pooling",
    "listen_url",
    "db_pool_size",
    "db_max_overflow",
    "redis_url",
    "redis_prefix",
)
HTTP = (
    "host",
    "port",
    "cors_origins",
    "cors_allow_credentials",
    "trusted_proxies",
    "rate_limit",
    "rate_limit_anonymous",
    "rate_limit_auth_failures",
    "max_body_bytes",
    "bootstrap_key",
    "metrics_token",
)
# A process without the API: where it serves its own counters.
METRICS_PORT = ("host", "metrics_port")
WORKER = (
    "worker_concurrency",
    "worker_threads",
    "worker_queues",
    "worker_name",
    "lease_seconds",
    "drain_seconds",
    "output_limit_bytes",
    "worker_poll_seconds",
    "imports",
    "enable_shell",
    "shell_allow",
    "http_allow_private",
    "http_allow",
)
# The upkeep every scheduler runs (services/retention.py, services/backups.py).
UPKEEP = (
    "retention_days",
    "retention_failed_days",
    "retention_keep_last",
    "backup_schedule",
    "backup_dir",
    "backup_keep",
    "audit_retention_days",
)
SCHEDULER = ("scheduler_poll_seconds", "scheduler_fire_ahead_seconds")
# Any process may deliver notices (``notifier``: by default those with a scheduler); the API's
# "send a test notice" uses the link base and the timeout too.
NOTIFY = ("public_url", "notifier", "notify_lease_seconds", "notify_timeout_seconds", "notify_max_attempts")
LOGGING = ("log_level", "log_format")
# Processes that read or write secrets (API, workers, and notifiers: channel secrets), and the db
# commands that rewrite them.
SECRETS = ("secret_key", "secret_key_old")


def _announce_key(key: str) -> None:
    click.echo(
        "\n  Created the first admin API key (shown only now; store it safely):\n\n"
        f"      {key}\n\n  Use it as 'Authorization: Bearer <key>' or to sign in to the web UI.\n",
        err=True,
    )


@click.command()
@settings_options(*DATABASE, *SECRETS, *HTTP, *WORKER, *SCHEDULER, *UPKEEP, *NOTIFY, *LOGGING)
def serve(**options: Any) -> None:
    """Everything in one process: API, web UI, scheduler and a worker."""
    roles = runtime.Roles(http=True, scheduler=True, worker=True)
    runtime.run(runtime.run_process(settings_from(options), roles, announce_key=_announce_key))


@click.command()
@settings_options(*DATABASE, *SECRETS, *HTTP, "imports", "enable_shell", "shell_allow", *NOTIFY, *LOGGING)
def api(**options: Any) -> None:
    """The API and web UI only (run schedulers and workers elsewhere).

    It needs the workers' --imports (python actions must name known functions) and --enable-shell
    (to accept shell actions).
    """
    runtime.run(
        runtime.run_process(settings_from(options), runtime.Roles(http=True), announce_key=_announce_key)
    )


@click.command()
@settings_options(*DATABASE, *SECRETS, *SCHEDULER, *UPKEEP, *METRICS_PORT, *NOTIFY, "worker_name", *LOGGING)
def scheduler(**options: Any) -> None:
    """The scheduler only: fires due slots into runs, prunes old runs, makes scheduled backups.
    Several may run at once."""
    runtime.run(runtime.run_process(settings_from(options), runtime.Roles(scheduler=True)))


@click.command()
@settings_options(*DATABASE, *SECRETS, "worker_processes", *WORKER, *METRICS_PORT, *NOTIFY, *LOGGING)
@click.option("--burst", is_flag=True, help="Run what is queued now, then exit (prints the figures as JSON).")
def worker(burst: bool, **options: Any) -> None:
    """A worker only: claims queued runs and executes them. SIGTERM drains gracefully.

    With --processes N, one parent imports once and forks N workers sharing its memory.
    """
    settings = settings_from(options)
    stats = (
        runtime.run_worker_processes(settings, burst=burst)
        if settings.worker_processes > 1
        else runtime.run(runtime.run_process(settings, runtime.Roles(worker=True, burst=burst)))
    )
    if burst and stats is not None:
        click.echo(
            json.dumps({"claimed": stats.claimed, "finished": stats.finished, "by_status": stats.by_status})
        )


@click.command()
@settings_options(*DATABASE, *SECRETS, *NOTIFY, "worker_name", *LOGGING)
def notifier(**options: Any) -> None:
    """The notifier only: delivers notices from the outbox. Several may run at once."""
    runtime.run(runtime.run_process(settings_from(options), runtime.Roles(notifier=True)))


COMMANDS = (serve, api, scheduler, worker, notifier)
