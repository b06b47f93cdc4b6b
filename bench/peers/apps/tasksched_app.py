"""tasksched's side: the same job body as a registered function (``--imports bench.peers.apps.tasksched_app``)."""

from __future__ import annotations

from bench.peers import job
from tasksched import task


@task(name="peers.incr")
def incr(key: str, due: float | None = None) -> None:
    job.incr(key, due)
