"""The peers harness's pure parts: statistics, the bulk request's shape, and the report's rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.peers import report, stats
from bench.peers.procs import TreeMonitor, children_of, cpu_seconds, memory_kb
from bench.peers.systems import batch_body, batch_limit, resolve


def test_median_odd_even_and_empty() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert stats.median([]) is None
    assert stats.median([float("nan"), 5.0]) == 5.0


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 100) == 100.0
    assert stats.percentile(values, 50) == pytest.approx(50.5)
    assert stats.percentile(values, 99) == pytest.approx(99.01)
    assert stats.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 50)
    with pytest.raises(ValueError, match="within"):
        stats.percentile([1.0], 101)


def test_time_at_interpolates_a_rising_counter() -> None:
    samples = [(0.0, 0), (1.0, 0), (2.0, 100), (3.0, 200)]
    assert stats.time_at(samples, 1) == pytest.approx(1.01)
    assert stats.time_at(samples, 150) == pytest.approx(2.5)
    assert stats.time_at(samples, 200) == 3.0
    assert stats.time_at(samples, 201) is None
    assert stats.time_at([(0.5, 10)], 1) == 0.5  # already past it at the first sample


def test_throughput_overall_steady_and_first_job() -> None:
    # Nothing for 1 s (start-up), then 1,000 jobs/s for 1 s.
    samples = [(0.0, 0), (1.0, 0)] + [(1.0 + i / 10, i * 100) for i in range(1, 11)]
    figures = stats.throughput(samples, 1000, 0.0)
    assert figures["overall"] == pytest.approx(500.0)
    assert figures["steady"] == pytest.approx(1000.0)
    assert figures["first_job_s"] == pytest.approx(1.001)
    unfinished = stats.throughput([(0.0, 0), (1.0, 10)], 1000, 0.0)
    assert unfinished["overall"] is None
    assert unfinished["steady"] is None


def test_lateness_in_milliseconds_and_ratio() -> None:
    figures = stats.lateness([0.010, 0.020, 0.030])
    assert figures["p50"] == pytest.approx(20.0)
    assert figures["max"] == pytest.approx(30.0)
    assert stats.lateness([]) == {"p50": None, "p99": None, "max": None}
    assert stats.ratio(2.0, 4.0) == 0.5
    assert stats.ratio(None, 4.0) is None
    assert stats.ratio(1.0, 0.0) is None


def test_batch_body_follows_the_endpoint_schema() -> None:
    document: dict[str, Any] = {
        "components": {
            "schemas": {
                "Batch": {
                    "type": "object",
                    "properties": {"runs": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}},
                },
                "Item": {"type": "object", "properties": {"task_id": {"type": "integer"}}},
            }
        }
    }
    schema = resolve(document, {"$ref": "#/components/schemas/Batch"})
    assert batch_body(schema, 7, 3) == {"runs": [{"task_id": 7}] * 3}
    assert batch_body({"type": "array"}, 7, 2) == [{"task_id": 7}] * 2
    assert batch_limit(schema) == 1000
    assert batch_limit({"type": "object", "properties": {"runs": {"type": "array", "maxItems": 500}}}) == 500
    assert batch_limit({"type": "array", "maxItems": 5000}) == 1000
    with pytest.raises(RuntimeError, match="cannot shape"):
        batch_body({"type": "object", "properties": {"x": {"type": "string"}}}, 7, 2)


def test_procfs_readings_of_this_process() -> None:
    import os

    me = os.getpid()
    assert me in children_of([me])
    rss, pss = memory_kb(me)
    assert rss > 0
    assert pss > 0
    assert cpu_seconds(me, with_reaped=True) >= 0
    assert memory_kb(2**22 + 1) == (0, 0)  # past pid_max: gone
    monitor = TreeMonitor([me])
    monitor.sample()
    assert monitor.peak_rss_kb >= rss // 2
    assert monitor.cpu_total() >= 0


def _doc() -> dict[str, Any]:
    run = {
        "errors": [],
        "enqueue_jobs_s": 100.0,
        "drain_jobs_s": 1000.0,
        "late_p99_ms": 50.0,
        "worker_pss_mb": 80.0,
    }
    return {
        "started": "2026-01-01 00:00:00 UTC",
        "finished": "2026-01-01 00:10:00 UTC",
        "quick": False,
        "repeat": 3,
        "sizes": {"jobs": 10_000, "burst": 1_000, "api_seconds": 10},
        "argv": "python -m bench.peers",
        "machine": {
            "nproc": 2,
            "cpu": "x",
            "memory": "1 GiB",
            "kernel": "Linux",
            "load_before": "1 1 1",
            "load_after": "2 2 2",
        },
        "labels": {"huey": "Huey", "ts-split-pg": "tasksched PostgreSQL"},
        "versions": {"huey": {"huey": "3.5.4"}, "ts-split-pg": {"tasksched": "0.1.0"}},
        "commands": {"huey": ["huey_consumer app.huey -w 2"]},
        "runs": [
            {**run, "system": "huey", "rep": 1, "drain_jobs_s": 3000.0},
            {**run, "system": "huey", "rep": 2, "drain_jobs_s": 2000.0},
            {**run, "system": "huey", "rep": 3, "drain_jobs_s": 1000.0, "errors": ["burst: boom"]},
            {
                **run,
                "system": "ts-split-pg",
                "rep": 1,
                "api_get_tasks_rps": 500.0,
                "control_get_tasks_rps": 1000.0,
            },
        ],
    }


def test_report_renders_medians_ratios_every_run_and_errors() -> None:
    doc = _doc()
    assert report.medians(doc["runs"], "huey")["drain_jobs_s"] == 2000.0
    text = report.render(doc)
    assert "| Huey | 3 | 100 | — | 2,000 |" in text
    # tasksched drained 1,000/s against Huey's median 2,000/s: half.
    assert "| tasksched PostgreSQL | Huey | 1.00x | 0.50x |" in text
    assert "GET /api/tasks?limit=50 req/s" in text
    assert "- Huey: huey 3.5.4" in text
    assert "`huey_consumer app.huey -w 2`" in text
    assert "load average before 1 1 1" in text
    assert "- huey (rep 3): burst: boom" in text
    assert text.count("| Huey | ") == 5  # medians, the ratio to tasksched, each of its three runs


def test_short_table_for_the_readme() -> None:
    text = report.short_table(_doc())
    assert text.splitlines()[0].startswith("| system | enqueue jobs/s |")
    assert "| Huey | 100 | 2,000 (—) | — / 50 | — (80) |" in text


def test_chart_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "peers.png"
    report.chart(_doc(), path)
    assert path.read_bytes().startswith(b"\x89PNG")
