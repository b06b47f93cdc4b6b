"""Prometheus against tasksched: the rules check and pass their unit tests, the real Debian
``prometheus`` scrapes a running ``tasksched serve``, and every metric the alerts and the Grafana
dashboard use is one /metrics exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tasksched.services.context import Context
from tests.conftest import missing_service
from tests.helpers.processes import REPO, free_port, tasksched, wait_for

DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "tasksched.json"
KEY = "ts_e2e_prometheus_admin_key_0123"
METRIC = re.compile(r"\b(tasksched_[a-z_]+|up)\b(?!\s*\()")  # a name, not a function call


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_service(name, f"no {name} binary on PATH (Debian package prometheus)")
    assert path is not None
    return path


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_binary("promtool"), *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60
    )


def test_promtool_checks_the_rules_and_the_example_config() -> None:
    rules = _promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 11 rules found" in rules.stdout
    config = _promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def _alert_names() -> set[str]:
    return set(re.findall(r"^\s*- alert: (\w+)$", (PROMETHEUS_DIR / "alerts.yml").read_text(), re.M))


def test_promtool_rule_unit_tests_pass_and_cover_every_alert() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS_DIR / "alerts_test.yml").read_text()))
    assert tested == _alert_names()
    # and each is tested firing: some case expects it with labels
    text = (PROMETHEUS_DIR / "alerts_test.yml").read_text()
    for name in _alert_names():
        cases = re.findall(
            rf"alertname: {name}\n\s+exp_alerts:(.*?)(?=\n\s+- eval_time|\n\s+- interval|\Z)", text, re.S
        )
        assert any("exp_labels" in c for c in cases), f"{name} is never tested firing"


# --- metric names -----------------------------------------------------------------------------


def _expressions() -> dict[str, list[str]]:
    alerts = re.findall(
        r"^\s+expr: (?:\|\n)?(.*?)(?=\n\s+(?:for|labels):)",
        (PROMETHEUS_DIR / "alerts.yml").read_text(),
        re.M | re.S,
    )
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    panels = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return {"alerts.yml": alerts, "tasksched.json": panels}


def _exposed_names(text: str) -> set[str]:
    """The sample names an exposition has or will have (a labelled family with no child yet too)."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in suffixes.get(family.type, [""])
    }


async def test_every_metric_the_alerts_and_the_dashboard_use_is_exposed(ctx: Context) -> None:
    from tests.api.conftest import client_on

    async with client_on(ctx) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    exposed = _exposed_names(response.text) | {"up"}  # `up` is Prometheus's own, per target
    for where, expressions in _expressions().items():
        assert expressions, where
        used = {name for expr in expressions for name in METRIC.findall(expr)}
        assert used, where
        assert used <= exposed, f"{where} uses metrics /metrics does not expose: {sorted(used - exposed)}"


# --- the real Prometheus scraping the real server -----------------------------------------------


@pytest.fixture
def prometheus_bin() -> str:
    return _binary("prometheus")


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base}/api/v1/query", params={"query": expr}, timeout=5)
        body: dict[str, Any] = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture
def prometheus_on(prometheus_bin: str, tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def start(target: str) -> Prometheus:
        config = tmp_path / "prometheus.yml"
        shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "rule_files: [alerts.yml]\n"
            f"scrape_configs:\n  - job_name: tasksched\n    static_configs:\n      - targets: ['{target}']\n"
        )
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [
                    prometheus_bin,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        )
        return Prometheus(f"http://127.0.0.1:{port}")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for log in logs:
        log.close()


@pytest.mark.slow
def test_prometheus_scrapes_tasksched_serve(tmp_path: Path, prometheus_on: Any) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "TASKSCHED_DATABASE_URL": f"sqlite:///{tmp_path / 'prom.db'}",
        "TASKSCHED_BOOTSTRAP_KEY": KEY,
        "TASKSCHED_PORT": str(port),
        "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        "TASKSCHED_WORKER_CONCURRENCY": "7",
    }
    with tasksched(["serve"], env, tmp_path / "serve.log") as proc:
        proc.wait_ready(base)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        created = client.post(
            "/api/tasks", json={"name": "scraped", "action": {"type": "python", "function": "tests.noop"}}
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        for _ in range(2):
            assert client.post(f"/api/tasks/{task_id}/run").status_code == 202

        def both_succeeded() -> bool:
            page = client.get("/api/runs", params={"task_id": task_id, "status": "succeeded"}).json()
            return bool(page["total"] == 2)

        wait_for(both_succeeded, timeout=20, message="two succeeded runs")
        finished = max(
            datetime.fromisoformat(r["finished_at"])
            for r in client.get("/api/runs", params={"task_id": task_id}).json()["items"]
        )

        prom = prometheus_on(f"127.0.0.1:{port}")
        wait_for(
            lambda: _answers(prom) and prom.value('up{job="tasksched"}') == 1,
            timeout=60,
            interval=0.5,
            message="Prometheus scraped tasksched",
        )
        success = prom.value('tasksched_task_last_success_timestamp_seconds{task="scraped"}')
        assert success == pytest.approx(finished.timestamp(), abs=0.001)
        assert prom.value('tasksched_runs_finished_total{task="scraped",status="succeeded"}') == 2
        assert prom.value("tasksched_database_up") == 1
        assert prom.value("tasksched_workers_alive") == 1
        assert prom.value("tasksched_worker_slots") == 7
        assert prom.value("tasksched_schedulers_alive") == 1
        assert prom.value('tasksched_queue_depth{queue="default"}') == 0
        route = prom.query(
            'tasksched_api_requests_total{route="/api/tasks/{task_id}/run",method="POST",status="202"}'
        )
        assert [float(r["value"][1]) for r in route] == [2]

        # The rules loaded, and each evaluates without error against tasksched's real series.
        def rules() -> list[dict[str, Any]]:
            groups = httpx.get(f"{prom.base}/api/v1/rules", timeout=5).json()["data"]["groups"]
            return [r for g in groups for r in g["rules"]]

        wait_for(
            lambda: all(r["health"] != "unknown" for r in rules()), timeout=30, message="rules evaluated"
        )
        assert {r["name"] for r in rules()} == _alert_names()
        assert [(r["name"], r.get("lastError")) for r in rules() if r["health"] != "ok"] == []
        client.close()
        assert proc.terminate() == 0


def _answers(prom: Prometheus) -> bool:
    try:
        return httpx.get(f"{prom.base}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_a_scheduler_without_the_api_serves_its_own_counters_on_the_metrics_port(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = {
        "TASKSCHED_DATABASE_URL": f"sqlite:///{tmp_path / 'sched.db'}",
        "TASKSCHED_METRICS_PORT": str(metrics_port),
    }
    with tasksched(["scheduler"], env, tmp_path / "scheduler.log") as proc:

        def answers() -> bool:
            if proc.popen.poll() is not None:
                raise AssertionError(proc.log())
            try:
                return httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=30, message="the scheduler's metrics port answers")
        names = _exposed_names(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text)
        assert {"tasksched_slots_skipped_total", "tasksched_runs_finished_total"} <= names
        assert "tasksched_database_up" not in names  # the cluster-wide gauges are the API's
        # (the port opens before the scheduler starts and takes over SIGTERM)
        wait_for(lambda: "scheduler started" in proc.log(), timeout=30, message="the scheduler started")
        assert proc.terminate() == 0
