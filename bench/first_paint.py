"""First paint of the tasks, runs and dashboard pages with 10,000 tasks and 1,000,000 runs.

    .venv/bin/python -m bench.first_paint [--database sqlite|postgresql] [--tasks 10000]
        [--runs 1000000] [--loads 7] [--keep PATH] [--src DIR]

Set-up (not measured): ``--tasks`` tasks through the store's bulk insert, then ``--runs`` runs spread
over the last 30 days by one server-side ``INSERT … SELECT`` (a recursive CTE on SQLite,
``generate_series`` on PostgreSQL): every task gets the same number of runs, one slot every
30 days / (runs per task), about 85 % succeeded, 8 % failed, 3 % timed out, 3 % skipped and 1 %
cancelled; each task's last-run summary is then set from its newest run, as the workers keep it.
The tasks' next slots lie hours ahead, so the scheduler fires nothing while the pages are loaded.
PostgreSQL is a throwaway database on 127.0.0.1:5432, dropped at the end; SQLite a temporary file
(``--keep PATH`` seeds PATH once and reuses it on later calls, for working on the queries).

Measured: a real ``tasksched serve`` on that database, and Debian's Chromium (Playwright) loading
/tasks, /runs and / cold ``--loads`` times each: a new browser context every time (no HTTP cache,
no query cache), signed in through the session storage the sign-in page writes. **First paint**
is the Element Timing API's ``renderTime`` of the page's main content, in ms from the start of the
navigation: the first task name in the list (``elementtiming="task-name"``), the first run's link
in the runs table (``run-row``), the first stat card's value on the dashboard (``stat-value``).
It is the moment the browser painted that text, not when the DOM got it. Printed per page: median
and p95 of that, the first contentful paint, and every API request of the load with its start
and its server time (``responseStart - requestStart`` from Resource Timing, loopback only): the
slowest request the content waits for gates the paint; and when the page's scripts and styles had
all arrived (the rest, up to the paint, is running them and rendering). The first of the loads of
each page is a warm-up (the server's caches, the database file in the OS cache) and is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import bulk_tasks, fresh_database, open_context, run
from tasksched.domain.principals import CLI, Role
from tasksched.domain.tasks import TaskSpec
from tasksched.services.context import Context
from tasksched.services.keys import KeyService
from tasksched.store import partitions
from tests.helpers.processes import PYTHONPATH, free_port, tasksched

KEY = "ts_bench_paint_key_0123456789abcdef"
DAYS = 30
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# page → (path, the elementtiming identifier of its main content)
PAGES = {"tasks": ("/tasks", "task-name"), "runs": ("/runs", "run-row"), "dashboard": ("/", "stat-value")}

# Element Timing: the first paint of each marked element, by identifier (buffered: entries that came
# before the observer are reported too).
PROBE = """
window.__painted = {};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.identifier && !(entry.identifier in window.__painted)) {
      window.__painted[entry.identifier] = entry.renderTime || entry.loadTime;
    }
  }
}).observe({ type: "element", buffered: true });
"""
API_TIMINGS = """() => performance.getEntriesByType("resource")
  .filter((e) => new URL(e.name).pathname.startsWith("/api/"))
  .map((e) => ({ path: new URL(e.name).pathname + new URL(e.name).search, start: e.startTime,
                 server: e.responseStart - e.requestStart, end: e.responseEnd }))"""
# When the page's own scripts and styles had all arrived (the app cannot render before).
ASSETS_DONE = """() => Math.max(0, ...performance.getEntriesByType("resource")
  .filter((e) => /\\.(js|css)$/.test(new URL(e.name).pathname)).map((e) => e.responseEnd))"""
FCP = """() => (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime ?? null"""


def _outcome(i: str, t: str) -> str:
    """SQL for a run's status from its number and its task's: a fixed, spread-out mix."""
    h = f"(({i}) * 7919 + ({t}) * 104729) % 100"
    return (
        f"CASE WHEN {h} < 85 THEN 'succeeded' WHEN {h} < 93 THEN 'failed' WHEN {h} < 96 THEN 'timed_out' "
        f"WHEN {h} < 99 THEN 'skipped' ELSE 'cancelled' END"
    )


def _runs_sql(dialect: str, first_task: int, tasks: int, total: int, start_ms: int) -> str:
    """One INSERT … SELECT of ``total`` runs: run i belongs to task i % tasks and is its (i / tasks)-th
    slot; ids rise with time, as they do when runs are fired one slot after another."""
    per = total // tasks
    period_ms = DAYS * 86_400_000 // per
    t = f"(i % {tasks})"
    k = f"(i / {tasks})"
    slot = f"({start_ms} + {k} * {period_ms} + ({t} * 7777) % {period_ms})"
    duration = "(200 + (i * 37) % 4800)"
    status = _outcome("i", t)
    skipped = f"({status}) = 'skipped'"

    def ts(ms: str) -> str:
        if dialect == "sqlite":
            # The store's text form: 'YYYY-MM-DD HH:MM:SS.ffffff', naive UTC.
            return (
                f"(strftime('%Y-%m-%d %H:%M:%S', ({ms}) / 1000, 'unixepoch') || '.' || "
                f"printf('%06d', (({ms}) % 1000) * 1000))"
            )
        return f"to_timestamp(({ms})::float8 / 1000)"

    select = f"""
        SELECT {first_task} + {t}, 'task ' || substr('0000' || {t}, -5, 5),
               CASE WHEN i % 50 = 0 THEN 'manual' ELSE 'schedule' END,
               {ts(slot)}, 1, {status}, 'default', 0, {ts(slot)}, {ts(slot)},
               CASE WHEN {skipped} THEN NULL ELSE {ts(slot + " + 500")} END,
               CASE WHEN {skipped} THEN {ts(slot)} ELSE {ts(slot + " + 500 + " + duration)} END,
               CASE WHEN {skipped} THEN NULL ELSE {duration} END,
               CASE WHEN {skipped} THEN NULL ELSE 'bench-worker' END,
               CASE WHEN {skipped} THEN 'the previous run was still going (concurrency_policy forbid)'
                    ELSE NULL END,
               CASE WHEN ({status}) = 'failed' THEN 'HTTP 500 Internal Server Error from https://example.com/' || {t}
                    WHEN ({status}) = 'timed_out' THEN 'timed out after 30 s'
                    WHEN ({status}) = 'cancelled' THEN 'cancelled by bench'
                    ELSE NULL END,
               {"0" if dialect == "sqlite" else "false"}
    """
    columns = (
        "task_id, task_name, trigger, scheduled_for, attempt, status, queue, priority, queued_at, "
        "available_at, started_at, finished_at, duration_ms, worker, reason, error, cancel_requested"
    )
    if dialect == "sqlite":
        return (
            f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {total - 1}) "
            f"INSERT INTO runs ({columns}) {select} FROM n"
        )
    return f"INSERT INTO runs ({columns}) {select} FROM generate_series(0::bigint, {total - 1}) AS i"


LAST_RUNS = """
UPDATE tasks SET last_run_id = (SELECT max(r.id) FROM runs r WHERE r.task_id = tasks.id);
UPDATE tasks SET last_run_status = (SELECT r.status FROM runs r WHERE r.id = tasks.last_run_id),
                 last_run_at = (SELECT r.finished_at FROM runs r WHERE r.id = tasks.last_run_id)
"""


async def seed(ctx: Context, tasks: int, total: int) -> None:
    now = ctx.clock.now()
    specs = [
        TaskSpec.model_validate(
            {
                "name": f"task {i:05d}",
                "tags": [["billing", "reports", "etl", "ops"][i % 4]],
                "action": {"type": "http", "url": f"https://example.com/{i}"},
                "schedule": {"type": "cron", "expression": f"{i % 60} {i % 24} * * *", "timezone": "UTC"},
            }
        )
        for i in range(tasks)
    ]
    # Hours ahead: nothing fires while the pages are measured.
    next_runs: list[datetime | None] = [now + timedelta(hours=3, seconds=i) for i in range(tasks)]
    ids = await bulk_tasks(ctx, specs, next_runs)
    assert ids == list(range(ids[0], ids[0] + tasks)), "task ids are expected to be consecutive"
    start = now - timedelta(days=DAYS)
    dialect = "sqlite" if ctx.db.is_sqlite else "postgresql"
    async with ctx.db.write() as tx:
        if dialect == "postgresql":
            await partitions.ensure_months(tx, partitions.months_between(start, now))
        sql = _runs_sql(dialect, ids[0], tasks, total, int(start.timestamp() * 1000))
        await tx.execute(sa.text(sql))
        for statement in LAST_RUNS.split(";"):
            await tx.execute(sa.text(statement))
    if dialect == "postgresql":
        # What autovacuum does soon after a bulk load; a database grown over months has statistics.
        async with ctx.db.write() as tx:
            await tx.execute(sa.text("ANALYZE"))
    await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(base: str, loads: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    results: dict[str, Any] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, (path, identifier) in PAGES.items():
                paints: list[float] = []
                fcps: list[float] = []
                assets_done: list[float] = []
                requests: dict[str, list[tuple[float, float]]] = defaultdict(list)
                for _ in range(loads + 1):  # the first load warms the server's caches and is dropped
                    context = await browser.new_context(viewport={"width": 1280, "height": 900})
                    await context.add_init_script(f"sessionStorage.setItem('tasksched.apiKey', {KEY!r});")
                    await context.add_init_script(PROBE)
                    page = await context.new_page()
                    await page.goto(f"{base}{path}")
                    # A function, not an expression: the UI's Content-Security-Policy refuses eval().
                    await page.wait_for_function(
                        f"() => window.__painted[{identifier!r}] !== undefined", timeout=60_000
                    )
                    painted = float(await page.evaluate(f"window.__painted[{identifier!r}]"))
                    fcp = await page.evaluate(FCP)
                    assets = float(await page.evaluate(ASSETS_DONE))
                    timings = await page.evaluate(API_TIMINGS)
                    await context.close()
                    if _ == 0:
                        continue
                    paints.append(painted)
                    assets_done.append(assets)
                    if fcp is not None:
                        fcps.append(float(fcp))
                    for entry in timings:
                        if entry["start"] < painted:  # what the paint could wait for
                            requests[entry["path"]].append((entry["start"], entry["server"]))
                results[name] = {"paints": paints, "fcps": fcps, "assets": assets_done, "requests": requests}
        finally:
            await browser.close()
    return results


def report(results: dict[str, Any], label: str) -> None:
    for name, r in results.items():
        paints = r["paints"]
        print(
            f"{label} {name:9s} first paint median {statistics.median(paints):6.0f} ms, "
            f"p95 {_pct(paints, 0.95):6.0f} ms (all {[round(p) for p in paints]}); "
            f"first contentful paint median {statistics.median(r['fcps']):.0f} ms; "
            f"scripts and styles arrived by {statistics.median(r['assets']):.0f} ms (median)",
            flush=True,
        )
        for path, seen in sorted(
            r["requests"].items(), key=lambda kv: statistics.median(s for s, _ in kv[1])
        ):
            starts = [s for s, _ in seen]
            servers = [v for _, v in seen]
            print(
                f"    {path[:90]:90s} starts {statistics.median(starts):5.0f} ms, server median "
                f"{statistics.median(servers):6.1f} ms, p95 {_pct(servers, 0.95):6.1f} ms ({len(seen)}/{len(paints)} loads)",
                flush=True,
            )


async def main_async(
    database: str, tasks: int, total: int, loads: int, keep: str | None, src: str | None
) -> None:
    async with fresh_database(database) as fresh_url:
        url = f"sqlite:///{Path(keep).resolve()}" if keep and database == "sqlite" else fresh_url
        ctx = await open_context(url)
        try:
            async with ctx.db.read() as tx:
                have = int((await tx.execute(sa.text("SELECT count(*) FROM runs"))).scalar_one())
            if have == 0:
                began = asyncio.get_running_loop().time()
                await seed(ctx, tasks, total)
                print(
                    f"seeded {tasks} tasks and {total} runs in {asyncio.get_running_loop().time() - began:.0f} s",
                    flush=True,
                )
            else:
                print(f"reusing {url} ({have} runs)", flush=True)
        finally:
            await ctx.close()
        port = free_port()
        folder = Path(tempfile.mkdtemp(prefix="tasksched-bench-"))
        env = {
            "TASKSCHED_DATABASE_URL": url,
            "TASKSCHED_PORT": str(port),
            "TASKSCHED_HOST": "127.0.0.1",
            "TASKSCHED_LOG_LEVEL": "warning",
        }
        if src:
            env["PYTHONPATH"] = os.pathsep.join([src, PYTHONPATH])
        with tasksched(["serve"], env, folder / "serve.log") as server:
            base = f"http://127.0.0.1:{port}"
            server.wait_ready(base, timeout=120)
            load_before = os.getloadavg()
            results = await measure(base, loads)
            load_after = os.getloadavg()
        label = f"{database} {tasks} tasks {total} runs:"
        report(results, label)
        print(
            f"load average (1, 5, 15 min) before {tuple(round(x, 2) for x in load_before)}, "
            f"after {tuple(round(x, 2) for x in load_after)}; {loads} cold loads per page",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=7, help="cold loads per page (after one warm-up)")
    parser.add_argument("--keep", help="SQLite only: seed this file once and reuse it on later calls")
    parser.add_argument("--src", help="run the server from another checkout's src/ (a before/after)")
    args = parser.parse_args()
    if args.runs % args.tasks:
        parser.error("--runs must be a multiple of --tasks (every task gets as many runs)")
    run(main_async(args.database, args.tasks, args.runs, args.loads, args.keep, args.src))


if __name__ == "__main__":
    main()
