"""Prometheus exposition: request metrics middleware, and the cluster-wide gauges of a scrape.

``/metrics`` answers with this process's counters (``observability/metrics.py``) followed by
gauges read from the database at scrape time (``services/monitoring.py``). When the database
cannot answer, the endpoint still answers: ``tasksched_database_up 0`` and the process's counters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasksched.observability import metrics
from tasksched.services.monitoring import Snapshot

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Count requests and time them, labelled by the route *template* (``/api/tasks/{task_id}``).

    A path no route matched is labelled ``unmatched``, an unusual method ``other``: labels stay
    bounded whatever clients send.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 by the server

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            metrics.API_REQUESTS.labels(method, route, str(status)).inc()
            metrics.API_LATENCY.labels(method, route).observe(time.perf_counter() - started)


class SnapshotCollector(Collector):
    """The database's figures as gauges; ``snapshot`` None means the database did not answer."""

    def __init__(self, snapshot: Snapshot | None, scrape_seconds: float) -> None:
        self.snapshot = snapshot
        self.scrape_seconds = scrape_seconds

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tasksched_database_up", "1 when the database answered this scrape's queries, else 0."
        )
        up.add_metric([], 1.0 if self.snapshot is not None else 0.0)
        yield up
        took = GaugeMetricFamily(
            "tasksched_metrics_database_seconds", "How long this scrape's database queries took."
        )
        took.add_metric([], self.scrape_seconds)
        yield took
        snap = self.snapshot
        if snap is None:
            return
        depth = GaugeMetricFamily("tasksched_queue_depth", "Runs queued, per queue.", labels=["queue"])
        age = GaugeMetricFamily(
            "tasksched_queue_oldest_age_seconds",
            "How long the earliest claimable queued run has waited, per queue (0 when none waits).",
            labels=["queue"],
        )
        for name, q in snap.queues.items():
            depth.add_metric([name], q.queued)
            age.add_metric([name], q.oldest_age_seconds)
        yield depth
        yield age
        yield _gauge("tasksched_runs_in_progress", "Runs running now, on every worker.", snap.running)
        yield _gauge(
            "tasksched_workers_alive",
            "Workers that heartbeat within a lease and have not stopped.",
            snap.workers_alive,
        )
        yield _gauge("tasksched_worker_slots", "Concurrent run slots of the live workers.", snap.worker_slots)
        yield _gauge(
            "tasksched_worker_slots_busy", "Slots of the live workers running a run.", snap.worker_slots_busy
        )
        yield _gauge(
            "tasksched_schedulers_alive",
            "Schedulers whose loop passed in the last 30 seconds.",
            snap.schedulers_alive,
        )
        tick = GaugeMetricFamily(
            "tasksched_scheduler_last_tick_timestamp_seconds",
            "When a running scheduler's loop last completed a pass (Unix time; absent: none ever did).",
        )
        if snap.scheduler_last_tick is not None:
            tick.add_metric([], snap.scheduler_last_tick.timestamp())
        yield tick
        yield _gauge(
            "tasksched_backup_last_failed",
            "1 when the newest backup (manual or scheduled) failed, else 0.",
            1.0 if snap.backup_last_failed else 0.0,
        )
        backed_up = GaugeMetricFamily(
            "tasksched_backup_last_success_timestamp_seconds",
            "When the newest successful backup finished (Unix time; absent: none ever did).",
        )
        if snap.backup_last_success is not None:
            backed_up.add_metric([], snap.backup_last_success.timestamp())
        yield backed_up
        yield _gauge(
            "tasksched_schedule_overdue_seconds",
            "How far the earliest enabled task's next slot is past due (0: none is); slots that never fired.",
            snap.overdue_seconds,
        )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def task_marks_text(snapshot: Snapshot) -> str:
    """The per-task gauges (two per task), written directly in the text format.

    prometheus_client's families cost some 10 µs per sample: with 10,000 tasks that was 150-220 ms
    of the event loop per scrape; this is one f-string per sample.
    """
    success, start = (
        "tasksched_task_last_success_timestamp_seconds",
        "tasksched_task_last_start_timestamp_seconds",
    )
    lines = [
        f"# HELP {success} When the task's newest succeeded run finished (Unix time), from the runs on record.",
        f"# TYPE {success} gauge",
    ]
    lines += [
        f'{success}{{task="{_label(t.name)}"}} {t.last_success_at.timestamp()!r}'
        for t in snapshot.tasks
        if t.last_success_at is not None
    ]
    lines += [
        f"# HELP {start} When the task's newest run started (Unix time), from the runs on record.",
        f"# TYPE {start} gauge",
    ]
    lines += [
        f'{start}{{task="{_label(t.name)}"}} {t.last_start_at.timestamp()!r}'
        for t in snapshot.tasks
        if t.last_start_at is not None
    ]
    return "\n".join(lines) + "\n"


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], value)
    return family


def exposition(snapshot: Snapshot | None, scrape_seconds: float) -> bytes:
    """This process's metrics, then the database's figures, in the Prometheus text format."""
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(SnapshotCollector(snapshot, scrape_seconds))
    body = generate_latest(metrics.REGISTRY) + generate_latest(scraped)
    if snapshot is not None:
        body += task_marks_text(snapshot).encode()
    return body
