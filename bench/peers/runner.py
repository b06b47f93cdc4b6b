"""The workloads, run against one system: enqueue, drain, a burst due at one instant, the API under wrk."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.peers import stats
from bench.peers.procs import TreeMonitor
from bench.peers.systems import ROOT, SHARED_VENV, Proc, System, Tasksched, due_after, free_port


@dataclass(frozen=True)
class Sizes:
    jobs: int
    burst: int
    api_seconds: int


FULL = Sizes(jobs=10_000, burst=1_000, api_seconds=5)
QUICK = Sizes(jobs=1_000, burst=200, api_seconds=3)

Result = dict[str, Any]


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", flush=True)


def counter(client: redis.Redis, key: str) -> int:
    return int(client.get(key) or 0)


def wait_count(client: redis.Redis, key: str, n: int, timeout: float, procs: list[Proc]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if counter(client, key) >= n:
            return True
        dead = [p.name for p in procs if not p.alive()]
        if dead:
            raise RuntimeError(f"worker processes exited: {dead}")
        time.sleep(0.02)
    return False


def drain(system: System, client: redis.Redis, key: str, n: int) -> Result:
    """Start the workers on ``n`` queued jobs; sample the counter (every 10 ms) and the worker trees."""
    started = time.perf_counter()
    procs = system.start_workers()
    monitor = TreeMonitor([p.pid for p in procs])
    samples: list[tuple[float, int]] = []
    progress = (started, 0)  # a drain that moves no job for 60 s has stalled
    last_memory = 0.0
    try:
        while True:
            now = time.perf_counter()
            value = counter(client, key)
            samples.append((now - started, value))
            if now - last_memory >= 0.25:
                monitor.sample()
                last_memory = now
            if value >= n:
                break
            if value > progress[1]:
                progress = (now, value)
            elif now - progress[0] > 60:
                raise RuntimeError(f"drain stalled at {value} of {n}")
            dead = [p.name for p in procs if not p.alive()]
            if dead:
                raise RuntimeError(f"worker processes exited: {dead}")
            time.sleep(0.01)
        monitor.sample()
        cpu = monitor.cpu_total()
    finally:
        system.stop_workers(procs)
    rates = stats.throughput(samples, n, 0.0)
    return {
        "drain_jobs_s": rates["overall"],
        "drain_steady_jobs_s": rates["steady"],
        "first_job_s": rates["first_job_s"],
        "worker_cpu_s": cpu,
        "worker_cpu_ms_per_job": cpu / n * 1000,
        "worker_rss_mb": monitor.peak_rss_kb / 1024,
        "worker_pss_mb": monitor.peak_pss_kb / 1024,
        "worker_processes": len(monitor.pids),
    }


def burst(system: System, client: redis.Redis, key: str, n: int, enqueue_rate: float | None) -> Result:
    """``n`` jobs due at one whole second, far enough ahead for the producer to have sent them all."""
    procs = system.start_workers(for_schedule=True)
    try:
        if system.has_queue:  # the workers are up once a first job went through
            system.enqueue(f"{key}:warm", 1, False)
            if not wait_count(client, f"{key}:warm", 1, 60, procs):
                raise RuntimeError("the warm-up job did not run")
        rate = enqueue_rate or 200.0
        due = due_after(max(5.0, 2.0 * n / rate + 5))
        produced = system.schedule(key, n, due)
        if system.has_queue and time.time() > due:  # (in-process, the producer waits for the jobs)
            raise RuntimeError(f"scheduling {n} jobs took past their slot ({produced:.1f} s)")
        ran = wait_count(client, key, n, due - time.time() + 90, procs)
        if not ran:
            time.sleep(1)
    finally:
        system.stop_workers(procs)
    late = [float(v) for v in client.lrange(f"{key}:late", 0, -1)]
    figures = stats.lateness(late)
    return {
        "late_p50_ms": figures["p50"],
        "late_p99_ms": figures["p99"],
        "late_max_ms": figures["max"],
        "late_min_ms": min(late) * 1000 if late else None,
        "late_ran": len(late),
        "late_due": n,
        "schedule_seconds": produced,
    }


WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")


def wrk(url: str, seconds: int, headers: dict[str, str], script: str | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t1", "-c8", f"-d{seconds}s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script or "")
    if script:
        cmd += ["-s", f.name]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    Path(f.name).unlink()
    rate = WRK_RATE.search(out)
    errors = WRK_NON2XX.search(out)
    return {
        "rps": float(rate.group(1)) if rate else 0.0,
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


# wrk.format's headers replace wrk.headers (the -H ones, Authorization) when given: copy them first.
POST_TASK = """
counter = 0
headers = {}
for name, value in pairs(wrk.headers) do headers[name] = value end
headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local body = '{"name":"wrk %(tag)s ' .. counter .. '","action":{"type":"python","function":"peers.incr","kwargs":{"key":"%(tag)s"}}}'
  return wrk.format("POST", "/api/tasks", headers, body)
end
"""
POST_RUN = 'wrk.method = "POST"\n'


def api(system: Tasksched, seconds: int, tag: str) -> Result:
    """wrk against tasksched's API and against the bare Starlette control on the same database."""
    base = f"http://127.0.0.1:{system.port}"
    auth = {"Authorization": f"Bearer {system.key}"}
    task_id = system.create_task(f"wrk run {tag}", {"key": f"{tag}:wrk"})
    result: Result = {}
    listing = wrk(f"{base}/api/tasks?limit=50", seconds, auth)
    created = wrk(f"{base}/api/tasks", seconds, auth, POST_TASK % {"tag": tag})
    runs = wrk(f"{base}/api/tasks/{task_id}/run", seconds, auth, POST_RUN)
    result.update(
        api_get_tasks_rps=listing["rps"],
        api_post_tasks_rps=created["rps"],
        api_post_run_rps=runs["rps"],
        api_non_2xx=listing["non_2xx"] + created["non_2xx"] + runs["non_2xx"],
    )
    port = free_port()
    env = {**system.env(), "PEERS_CONTROL_URL": system.url}
    control = system.spawn(
        "control",
        [
            str(SHARED_VENV / "bin" / "uvicorn"),
            "bench.peers.control:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env,
    )
    try:
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/tasks?limit=1", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        control_rate = wrk(f"http://127.0.0.1:{port}/api/tasks?limit=50", seconds, {})
    finally:
        control.stop()
    result["control_get_tasks_rps"] = control_rate["rps"]
    result["api_get_vs_control"] = stats.ratio(listing["rps"], control_rate["rps"])
    return result


def run_system(system: System, sizes: Sizes, rep: int) -> Result:
    """Every workload on one system, once. A failing workload is recorded, the others still run."""
    client = redis.Redis(host="127.0.0.1", port=6379)
    result: Result = {"system": system.name, "rep": rep, "errors": []}
    base = f"peers:{system.run}:{system.name}:{rep}"
    try:
        system.start()
    except Exception as exc:
        result["errors"].append(f"start: {exc!r}")
        log(f"{system.name}: start failed: {exc!r}")
        system.stop()
        return result
    try:
        rate: float | None = None
        if system.has_queue:
            key = f"{base}:one"
            try:
                seconds = system.enqueue(key, sizes.jobs, False)
                assert seconds is not None
                rate = sizes.jobs / seconds
                result["enqueue_jobs_s"] = rate
                log(f"{system.name}: enqueued {sizes.jobs} one by one in {seconds:.2f} s")
                figures = drain(system, client, key, sizes.jobs)
                result.update(figures)
                log(f"{system.name}: drained at {figures['drain_jobs_s']:.0f} jobs/s")
            except Exception as exc:
                result["errors"].append(f"enqueue/drain: {exc!r}")
                log(f"{system.name}: {exc!r}\n{traceback.format_exc()}")
            try:  # into a queue no worker takes: nothing to drain
                seconds = system.enqueue(f"{base}:bulk", sizes.jobs, True)
                result["enqueue_bulk_jobs_s"] = sizes.jobs / seconds if seconds else None
                if seconds:
                    log(f"{system.name}: enqueued {sizes.jobs} in bulk in {seconds:.2f} s")
            except Exception as exc:
                result["errors"].append(f"bulk enqueue: {exc!r}")
                log(f"{system.name}: {exc!r}\n{traceback.format_exc()}")
        try:
            figures = burst(system, client, f"{base}:burst", sizes.burst, rate)
            result.update(figures)
            log(
                f"{system.name}: lateness p50 {figures['late_p50_ms']} ms, ran {figures['late_ran']}/{sizes.burst}"
            )
        except Exception as exc:
            result["errors"].append(f"burst: {exc!r}")
            log(f"{system.name}: burst {exc!r}\n{traceback.format_exc()}")
        if isinstance(system, Tasksched):
            try:
                result.update(api(system, sizes.api_seconds, f"{system.run}-{rep}"))
                log(f"{system.name}: API GET /api/tasks {result['api_get_tasks_rps']:.0f}/s")
            except Exception as exc:
                result["errors"].append(f"api: {exc!r}")
                log(f"{system.name}: api {exc!r}\n{traceback.format_exc()}")
    finally:
        system.stop()
    result["commands"] = list(system.commands)
    return result


__all__ = ["FULL", "QUICK", "ROOT", "Sizes", "run_system"]
