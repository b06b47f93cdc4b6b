"""A flood of distinct bad API keys from one address, against a real `tasksched api` process.

    .venv/bin/python -m bench.auth_flood [--backend postgresql|sqlite] [--keys 2000] [--connections 64]
        [--no-limits] [--src /work/main/src]

Every key is new, so the server's key cache never helps: without a limit each costs a database
lookup. With the failed-authentication limit (the default 10/minute) the address is refused with
429 after its first failures, before any lookup. Meanwhile a legitimate client on another loopback
address (127.0.0.2) asks for /api/tasks with a good key once every 50 ms; its latency is the
figure that matters to users. On PostgreSQL the database's own transaction counter
(pg_stat_database) says how many transactions the flood cost.

--no-limits runs the same server with every rate limit off; --src runs another checkout's code
(e.g. the main branch before rate limits existed) for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from bench.common import fresh_database, open_context
from tasksched.domain.principals import CLI, Role
from tasksched.services.keys import KeyService
from tests.helpers.processes import PYTHONPATH, free_port, tasksched

KEY = "ts_bench_admin_key_0123456789"
LEGIT_ADDRESS = "127.0.0.2"
LEGIT_INTERVAL = 0.05


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def _seed(url: str) -> None:
    ctx = await open_context(url)
    try:
        await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
    finally:
        await ctx.close()


async def _transactions(url: str) -> int | None:
    if not url.startswith("postgresql"):
        return None
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name
        )
    finally:
        await conn.close()
    return int(value)


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, key: str) -> int:
    """One GET on a kept-alive connection; its status. A bare HTTP/1.1 client: httpx's pool, at 64
    connections on this machine's two cores, topped out near 90 requests/s even on /healthz, which
    would have measured the client."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _flood(
    port: int, keys: int, connections: int
) -> tuple[list[float], dict[int, int], float, list[float]]:
    latencies: list[float] = []
    refused: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(keys):
        queue.put_nowait(f"ts_wrong_{uuid.uuid4().hex}")

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                key = queue.get_nowait()
                started = time.perf_counter()
                status = await _request(reader, writer, "/api/tasks", key)
                latencies.append(time.perf_counter() - started)
                if status == 429:
                    refused.append(latencies[-1])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies, statuses, time.perf_counter() - started, refused


async def _legit(base: str, stop: asyncio.Event) -> tuple[list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    transport = httpx.AsyncHTTPTransport(local_address=LEGIT_ADDRESS)
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=30) as http:
        while not stop.is_set():
            started = time.perf_counter()
            answer = await http.get("/api/tasks?limit=10", headers={"Authorization": f"Bearer {KEY}"})
            latencies.append(time.perf_counter() - started)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            await asyncio.sleep(LEGIT_INTERVAL)
    return latencies, statuses


async def main_async(backend: str, keys: int, connections: int, no_limits: bool, src: str | None) -> None:
    async with fresh_database(backend) as url:
        await _seed(url)
        port = free_port()
        folder = Path(tempfile.mkdtemp(prefix="tasksched-bench-"))
        env = {
            **os.environ,
            "TASKSCHED_DATABASE_URL": url,
            "TASKSCHED_PORT": str(port),
            "TASKSCHED_HOST": "127.0.0.1",
            "TASKSCHED_LOG_LEVEL": "warning",
        }
        if no_limits:
            env.update(
                TASKSCHED_RATE_LIMIT="",
                TASKSCHED_RATE_LIMIT_ANONYMOUS="",
                TASKSCHED_RATE_LIMIT_AUTH_FAILURES="",
            )
        if src:
            env["PYTHONPATH"] = os.pathsep.join([src, PYTHONPATH])
        with tasksched(["api"], env, folder / "api.log") as server:
            base = f"http://127.0.0.1:{port}"
            server.wait_ready(base, timeout=60)
            before = await _transactions(url)
            stop = asyncio.Event()
            legit = asyncio.create_task(_legit(base, stop))
            await asyncio.sleep(0.5)  # the legitimate client's quiet baseline
            latencies, statuses, elapsed, refused = await _flood(port, keys, connections)
            stop.set()
            legit_latencies, legit_statuses = await legit
            await asyncio.sleep(0.6)  # PostgreSQL reports its counters every 500 ms
            after = await _transactions(url)
    code = f"code from {src}" if src else "this checkout"
    mode = "limits off" if no_limits else "default limits"
    print(
        f"{backend}, {code}, {mode}: {keys} distinct bad keys over {connections} connections in {elapsed:.2f} s "
        f"({keys / elapsed:.0f} req/s): p50 {_pct(latencies, 0.5):.1f} ms, p99 {_pct(latencies, 0.99):.1f} ms, "
        f"max {max(latencies) * 1000:.0f} ms; statuses {dict(sorted(statuses.items()))}"
        + (
            f" (the 429s: p50 {_pct(refused, 0.5):.1f} ms, p99 {_pct(refused, 0.99):.1f} ms); "
            if refused
            else "; "
        )
        + (f"database transactions {after - before}; " if before is not None and after is not None else "")
        + f"a good key from {LEGIT_ADDRESS} meanwhile: {len(legit_latencies)} requests, "
        f"p50 {_pct(legit_latencies, 0.5):.1f} ms, max {max(legit_latencies) * 1000:.0f} ms, "
        f"mean {statistics.fmean(legit_latencies) * 1000:.1f} ms, statuses {dict(sorted(legit_statuses.items()))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-limits", action="store_true", help="every rate limit off")
    parser.add_argument("--src", help="run the server from another checkout's src/ (a before/after)")
    args = parser.parse_args()
    asyncio.run(main_async(args.backend, args.keys, args.connections, args.no_limits, args.src))


if __name__ == "__main__":
    main()
