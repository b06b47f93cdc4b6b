"""What this process counts: Prometheus metrics that only this process can see.

Counters and histograms here are per process (a worker counts the runs it finished, a scheduler the
slots it skipped, an API process the requests it served); Prometheus sums them across processes.
Figures that must be cluster-wide (queue depth, runs in progress, workers alive, a task's last
success) are not kept here: ``/metrics`` reads them from the database at scrape time.

Labels are bounded: a task's name (as many as there are tasks), a status, a queue, a route
template, a skip reason category. Never a run id or a raw URL path.

The metrics are built (and prometheus_client imported) on first use, not at import: a process that
never exports them (a worker or scheduler without ``--metrics-port`` and without the API: nothing
can read them) calls ``discard()`` at start and never loads prometheus_client, which takes a good
part of a worker's start-up otherwise (issue 10, point 5). Counting is then a no-op.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    REGISTRY: CollectorRegistry
    """This process's metrics (not prometheus_client's global registry: nothing else writes here)."""
    RUNS_FINISHED: Counter
    RUN_DURATION: Histogram
    START_LATENESS: Histogram
    SLOTS_SKIPPED: Counter
    API_REQUESTS: Counter
    API_LATENCY: Histogram

_NAMES = frozenset(
    (
        "REGISTRY",
        "RUNS_FINISHED",
        "RUN_DURATION",
        "START_LATENESS",
        "SLOTS_SKIPPED",
        "API_REQUESTS",
        "API_LATENCY",
    )
)
_built: dict[str, Any] | None = None
_discarded = False
_lock = threading.Lock()


def _build() -> dict[str, Any]:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry(auto_describe=True)
    return {
        "REGISTRY": registry,
        "RUNS_FINISHED": Counter(
            "tasksched_runs_finished",
            "Runs that reached a final status in this process, by task and status.",
            ["task", "status"],
            registry=registry,
        ),
        "RUN_DURATION": Histogram(
            "tasksched_run_duration_seconds",
            "How long finished runs ran (started to finished), by final status.",
            ["status"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
            registry=registry,
        ),
        "START_LATENESS": Histogram(
            "tasksched_run_start_lateness_seconds",
            "How long after its slot (plus jitter) a scheduled run started, by queue.",
            ["queue"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
            registry=registry,
        ),
        "SLOTS_SKIPPED": Counter(
            "tasksched_slots_skipped",
            "Slots the scheduler recorded as skipped instead of run, by reason (misfire, overlap).",
            ["reason"],
            registry=registry,
        ),
        "API_REQUESTS": Counter(
            "tasksched_api_requests",
            "HTTP requests served by this process, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        ),
        "API_LATENCY": Histogram(
            "tasksched_api_request_duration_seconds",
            "HTTP request latency in this process, by method and route template.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=registry,
        ),
    }


class _Discarded:
    """A metric of a process that exports none: ``labels(...)`` and counting do nothing."""

    def labels(self, *_values: str) -> _Discarded:
        return self

    def inc(self, _amount: float = 1) -> None:
        pass

    def observe(self, _value: float) -> None:
        pass


_DISCARDED = _Discarded()


def discard() -> None:
    """This process exports no metrics: count nothing, and never import prometheus_client.

    Called before anything is counted; metrics already built (a test process) are kept."""
    global _discarded
    if _built is None:
        _discarded = True
        # Plain module attributes from now on: counting skips ``__getattr__`` (see _metric).
        globals().update(dict.fromkeys(_NAMES - {"REGISTRY"}, _DISCARDED))


def _metric(name: str) -> Any:
    global _built
    if _discarded and name != "REGISTRY":
        return _DISCARDED
    if _built is None:
        with _lock:  # built once, whichever thread counts first
            if _built is None:
                _built = _build()
                # Module attributes once built: ``__getattr__`` runs only for a missing name, so
                # every later ``metrics.API_REQUESTS`` (each request, each run) is a plain lookup.
                globals().update({"REGISTRY": _built["REGISTRY"]} if _discarded else _built)
    return _built[name]


def __getattr__(name: str) -> Any:
    """``metrics.RUNS_FINISHED`` and the others, built on first use (see the module docstring)."""
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _metric(name)


SKIP_REASONS = ("misfire", "overlap")


def skip_reason(reason: str | None) -> str:
    """A skipped run's reason text (``misfire: 3 missed slot(s) …``) as a bounded label."""
    head = (reason or "").split(":", 1)[0].strip()
    return head if head in SKIP_REASONS else "other"


def run_finished(task: str, status: str, duration_seconds: float | None = None) -> None:
    # Through _metric: the module's __getattr__ answers other modules, not this one's globals.
    _metric("RUNS_FINISHED").labels(task, status).inc()
    if duration_seconds is not None:
        _metric("RUN_DURATION").labels(status).observe(max(0.0, duration_seconds))
