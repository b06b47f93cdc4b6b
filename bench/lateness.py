"""1,000 tasks due in the same second: how late does each run start?

Start lateness = when the task's function really began - its slot, for every run, with the scheduler and a worker in one
process as `tasksched serve` runs them.

    .venv/bin/python -m bench.lateness [--backend sqlite|postgresql] [--tasks 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from datetime import timedelta

from bench.common import STARTED, bulk_tasks, fresh_database, open_context, run
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskSpec
from tasksched.scheduler.loop import Scheduler
from tasksched.services.runs import RunQuery, RunService
from tasksched.store import tasks as task_store
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.loop import Worker


async def lateness(backend: str, count: int, concurrency: int) -> list[float]:
    async with fresh_database(backend) as url:
        ctx = await open_context(url, worker_concurrency=concurrency)
        try:
            far = ctx.clock.now() + timedelta(days=1)
            specs = [
                TaskSpec.model_validate(
                    {
                        "name": f"due-{i}",
                        "action": {"type": "python", "function": "bench.stamp"},
                        "schedule": {"type": "once", "at": far.isoformat()},
                    }
                )
                for i in range(count)
            ]
            ids = await bulk_tasks(ctx, specs, [None] * count)
            # Set-up takes a while on SQLite: only now make every task due in two seconds, at once.
            due = ctx.clock.now().replace(microsecond=0) + timedelta(seconds=2)
            async with ctx.db.write() as tx:
                await task_store.advance(tx, [{"id": i, "next_run_at": due} for i in ids])
            scheduler = Scheduler(ctx)
            executors = ExecutorSet(ctx.settings)
            worker = Worker(ctx, executors, queues=ctx.settings.queue_list)
            loops = [asyncio.create_task(scheduler.run()), asyncio.create_task(worker.run())]
            service = RunService(ctx)
            while True:
                await asyncio.sleep(0.5)
                done = await service.count(RunQuery(statuses=[RunStatus.SUCCEEDED]))
                if done >= count:
                    break
            scheduler.stop()
            worker.stop()
            await asyncio.gather(*loops)
            await executors.aclose()
            late: list[float] = []
            offset = 0
            while True:
                items, *_ = await service.list(RunQuery(limit=500, offset=offset))
                if not items:
                    break
                late.extend((STARTED[r.id] - r.scheduled_for.timestamp()) * 1000 for r in items)
                offset += len(items)
            assert len(late) == count
            return late
        finally:
            await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    late = sorted(run(lateness(args.backend, args.tasks, args.concurrency)))
    p50 = statistics.median(late)
    p99 = late[int(len(late) * 0.99) - 1]
    print(
        f"{args.backend}, concurrency {args.concurrency}: {len(late)} runs due in one second; lateness p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms, max {late[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
