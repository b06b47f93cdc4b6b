"""Drain 10,000 queued no-op Python runs with one worker, end to end, every run recorded.

.venv/bin/python -m bench.drain [--backend sqlite|postgresql] [--runs 10000] [--function bench.noop] [--channel]
    [--concurrency 100] [--threads N]

``--function bench.redis_incr``: the issue's job body, a plain function doing one Redis ``INCR`` through
redis-py (127.0.0.1:6379, a client pool of 100 connections; ``bench/jobs.py``). ``--threads``: the
worker's TASKSCHED_WORKER_THREADS (default: the setting's). Prints the runs/s, the CPU per run of the
whole process (the worker, its threads and the driver's), the attempts that failed (each retried
under the task's default policy) and the threads alive at the end (a thread pool keeps the threads it started).

``--channel``: with a notification channel enabled, so every recorded outcome also goes through the
notification rules (no notifier runs: the cost measured is the outcome's side).
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import bench.jobs  # noqa: F401  # registers bench.redis_incr and bench.plain
from bench.common import bulk_runs, bulk_tasks, fresh_database, open_context, run
from tasksched.domain.notifications import ChannelSpec
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskSpec
from tasksched.services.channels import ChannelService
from tasksched.services.runs import RunQuery, RunService
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.loop import Worker


async def drain(
    backend: str,
    runs: int,
    function: str,
    concurrency: int,
    channel: bool = False,
    threads: int | None = None,
) -> dict[str, float]:
    async with fresh_database(backend) as url:
        extra: dict[str, Any] = {} if threads is None else {"worker_threads": threads}
        ctx = await open_context(url, worker_concurrency=concurrency, **extra)
        try:
            spec = TaskSpec.model_validate(
                {
                    "name": "noop",
                    "action": {"type": "python", "function": function},
                    "concurrency_policy": "allow",
                }
            )
            (task_id,) = await bulk_tasks(ctx, [spec], [None])
            if channel:
                hook = ChannelSpec.model_validate(
                    {"name": "bench", "config": {"type": "json", "url": "https://hooks.example.com/"}}
                )
                await ChannelService(ctx).create(hook, actor=CLI)
            await bulk_runs(ctx, task_id, "noop", runs)
            executors = ExecutorSet(ctx.settings)
            worker = Worker(ctx, executors, queues=ctx.settings.queue_list, burst=True)
            started, cpu_started = time.perf_counter(), time.process_time()
            stats = await worker.run()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            alive = threading.active_count()
            await executors.aclose()
            failed = await RunService(ctx).count(
                RunQuery(task_id=task_id, statuses=[RunStatus.FAILED, RunStatus.TIMED_OUT], limit=1)
            )
            # Failed attempts are retried (the task's default policy), so more may finish than were queued.
            assert stats.finished >= runs, f"only {stats.finished} of {runs} recorded"
            return {
                "runs": runs,
                "seconds": elapsed,
                "runs_per_s": runs / elapsed,
                "cpu_us_per_run": cpu / runs * 1e6,
                "finished": stats.finished,
                "failed_attempts": failed,
                "threads_alive": alive,
            }
        finally:
            await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--function", default="bench.noop")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--channel", action="store_true", help="with a notification channel enabled")
    parser.add_argument("--threads", type=int, default=None, help="TASKSCHED_WORKER_THREADS")
    args = parser.parse_args()
    result = run(drain(args.backend, args.runs, args.function, args.concurrency, args.channel, args.threads))
    print(
        f"{args.backend}: drained {result['runs']:.0f} runs of {args.function} in {result['seconds']:.2f} s "
        f"= {result['runs_per_s']:.0f} runs/s (concurrency {args.concurrency}"
        f"{', a channel enabled' if args.channel else ''}), all recorded ({result['finished']:.0f} attempts), "
        f"{result['failed_attempts']:.0f} attempts failed; CPU {result['cpu_us_per_run']:.0f} µs per run; "
        f"{result['threads_alive']:.0f} threads alive at the end"
    )


if __name__ == "__main__":
    main()
