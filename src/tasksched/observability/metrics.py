"""What this process counts: Prometheus metrics that only this process can see.

Counters and histograms here are per process (a worker counts the runs it finished, a scheduler the
slots it skipped, an API process the requests it served); Prometheus sums them across processes.
Figures that must be cluster-wide (queue depth, runs in progress, workers alive, a task's last
success) are not kept here: ``/metrics`` reads them from the database at scrape time.

Labels are bounded: a task's name (as many as there are tasks), a status, a queue, a route
template, a skip reason category. Never a run id or a raw URL path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's metrics (not prometheus_client's global registry: nothing else writes here)."""

RUNS_FINISHED = Counter(
    "tasksched_runs_finished",
    "Runs that reached a final status in this process, by task and status.",
    ["task", "status"],
    registry=REGISTRY,
)
RUN_DURATION = Histogram(
    "tasksched_run_duration_seconds",
    "How long finished runs ran (started to finished), by final status.",
    ["status"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)
START_LATENESS = Histogram(
    "tasksched_run_start_lateness_seconds",
    "How long after its slot (plus jitter) a scheduled run started, by queue.",
    ["queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
    registry=REGISTRY,
)
SLOTS_SKIPPED = Counter(
    "tasksched_slots_skipped",
    "Slots the scheduler recorded as skipped instead of run, by reason (misfire, overlap).",
    ["reason"],
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "tasksched_api_requests",
    "HTTP requests served by this process, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
API_LATENCY = Histogram(
    "tasksched_api_request_duration_seconds",
    "HTTP request latency in this process, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
    registry=REGISTRY,
)

SKIP_REASONS = ("misfire", "overlap")


def skip_reason(reason: str | None) -> str:
    """A skipped run's reason text (``misfire: 3 missed slot(s) …``) as a bounded label."""
    head = (reason or "").split(":", 1)[0].strip()
    return head if head in SKIP_REASONS else "other"


def run_finished(task: str, status: str, duration_seconds: float | None = None) -> None:
    RUNS_FINISHED.labels(task, status).inc()
    if duration_seconds is not None:
        RUN_DURATION.labels(status).observe(max(0.0, duration_seconds))
