"""The systems under test: how each one's workers start and stop, and how its producer is called.

Peers run from their own virtual environments (``envs.py``) through their own command-line tools and
producer APIs (``apps/``); tasksched runs from this checkout's shared ``.venv`` through its CLI and
REST API. The harness (``runner.py``) only counts what the job body wrote to Redis.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.peers import envs

ROOT = envs.ROOT
SHARED_VENV = ROOT / ".venv"
PG_ADMIN = os.environ.get("TASKSCHED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = "redis://127.0.0.1:6379/0"


def pg_url(database: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + database


def pg_admin(sql: str) -> None:
    """CREATE/DROP DATABASE through psql-free asyncpg, in the shared venv."""
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """A child the harness started in its own session, so stopping it reaches its whole group."""

    name: str
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 20.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


@dataclass
class System:
    """The common shape: ``start``/``stop`` once per repetition, workers started per workload."""

    name: str
    label: str
    logs: Path
    run: str
    has_queue: bool = True
    worker_count: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSCHED_", "VIRTUAL_ENV"))}
        env.update({"PYTHONPATH": str(ROOT), "PEERS_RUN": self.run, "PYTHONUNBUFFERED": "1"})
        env.update(self.extra_env)
        return env

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{self.name}-{name}.log").open("ab")
        shown = " ".join(str(c) for c in cmd).replace(str(ROOT) + "/", "")
        if shown not in self.commands:
            self.commands.append(shown)
        popen = subprocess.Popen(
            [str(c) for c in cmd],
            cwd=ROOT,
            env=env or self.env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        return Proc(name, popen)

    # What each system implements.
    def versions(self) -> dict[str, str]:
        raise NotImplementedError

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def enqueue(self, key: str, n: int, bulk: bool) -> float | None:
        raise NotImplementedError

    def schedule(self, key: str, n: int, due: float) -> float:
        raise NotImplementedError

    def start_workers(self, *, for_schedule: bool = False) -> list[Proc]:
        raise NotImplementedError

    def stop_workers(self, procs: list[Proc]) -> None:
        for proc in procs:
            proc.stop()

    def cleanup_redis(self, client: Any) -> None:
        """Every key of this harness run: queues are named, and counters keyed, with its token."""
        for key in client.scan_iter(f"*{self.run}*", count=1000):
            client.delete(key)


class Peer(System):
    """A peer system installed into its own environment; its app module lives in ``apps/``."""

    env_name: str = ""
    module: str = ""

    @property
    def venv(self) -> envs.Env:
        return envs.ensure(self.env_name)

    def versions(self) -> dict[str, str]:
        return self.venv.versions()

    def producer(self, *args: str) -> dict[str, Any]:
        cmd = [str(self.venv.python), "-m", "bench.peers.apps.produce", self.module, *args]
        shown = " ".join(["python", "-m", "bench.peers.apps.produce", self.module, *args[:1]])
        if shown not in self.commands:
            self.commands.append(shown)
        out = subprocess.run(cmd, cwd=ROOT, env=self.env(), check=True, capture_output=True, text=True)
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    def enqueue(self, key: str, n: int, bulk: bool) -> float | None:
        args = ["enqueue", "--key", key, "--n", str(n)] + (["--bulk"] if bulk else [])
        seconds = self.producer(*args)["seconds"]
        return None if seconds is None else float(seconds)

    def schedule(self, key: str, n: int, due: float) -> float:
        return float(self.producer("schedule", "--key", key, "--n", str(n), "--due", repr(due))["seconds"])

    def worker_cmd(self, index: int, for_schedule: bool) -> list[str]:
        raise NotImplementedError

    def start_workers(self, *, for_schedule: bool = False) -> list[Proc]:
        return [self.spawn(f"worker{i}", self.worker_cmd(i, for_schedule)) for i in range(self.worker_count)]


class Celery(Peer):
    env_name = "celery"
    module = "bench.peers.apps.celery_app"

    def worker_cmd(self, index: int, for_schedule: bool) -> list[str]:
        # One prefork worker with 2 child processes (the brief's "prefork concurrency 2").
        return [
            str(self.venv.bin("celery")),
            "-A",
            self.module,
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "-n",
            f"peers{index}@%h",
        ]


class Huey(Peer):
    env_name = "huey"
    module = "bench.peers.apps.huey_app"

    def worker_cmd(self, index: int, for_schedule: bool) -> list[str]:
        return [str(self.venv.bin("huey_consumer")), f"{self.module}.huey", "-w", "2", "-k", "process", "-q"]


class RQ(Peer):
    env_name = "rq"
    module = "bench.peers.apps.rq_app"
    worker_class: str | None = None

    def worker_cmd(self, index: int, for_schedule: bool) -> list[str]:
        cmd = [str(self.venv.bin("rq")), "worker", "--url", REDIS_URL, "--quiet", "--with-scheduler"]
        if self.worker_class:
            cmd += ["-w", self.worker_class]
        return [*cmd, f"peers-rq-{self.run}"]


class RQSimple(RQ):
    worker_class = "rq.worker.SimpleWorker"


class Arq(Peer):
    env_name = "arq"
    module = "bench.peers.apps.arq_app"

    def worker_cmd(self, index: int, for_schedule: bool) -> list[str]:
        return [str(self.venv.bin("arq")), f"{self.module}.WorkerSettings"]


class Procrastinate(Peer):
    env_name = "procrastinate"
    module = "bench.peers.apps.procrastinate_app"
    database: str = ""

    def start(self) -> None:
        self.database = f"peers_procrastinate_{uuid.uuid4().hex[:8]}"
        pg_admin(f'CREATE DATABASE "{self.database}"')
        self.extra_env["PEERS_PG_URL"] = pg_url(self.database)
        app = f"{self.module}.app"
        subprocess.run(
            [str(self.venv.bin("procrastinate")), f"--app={app}", "schema", "--apply"],
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        if self.database:
            pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self.database = ""

    def worker_cmd(self, index: int, for_schedule: bool) -> list[str]:
        return [
            str(self.venv.bin("procrastinate")),
            f"--app={self.module}.app",
            "worker",
            f"--queues=peers-{self.run}",
        ]


class APScheduler(Peer):
    env_name = "apscheduler"
    module = "bench.peers.apps.apscheduler_app"

    def start_workers(self, *, for_schedule: bool = False) -> list[Proc]:
        return []  # in-process: the producer's own process runs the jobs


class Tasksched(System):
    """tasksched from this checkout: ``serve`` (one process) or ``api`` + ``scheduler`` + 2 x ``worker``."""

    mode: str = "split"
    backend: str = "sqlite"
    # Above 1: the workers are one ``worker --processes N`` (forked from one parent), not N processes.
    processes: int = 1
    key: str = ""
    port: int = 0
    url: str = ""
    database: str = ""
    folder: Path | None = None
    parked: Proc | None = None
    api: Proc | None = None
    scheduler: Proc | None = None
    http: httpx.Client | None = None

    def tasksched(self) -> list[str]:
        return [str(SHARED_VENV / "bin" / "python"), "-m", "tasksched.cli"]

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT}"
        env.update(
            {
                "TASKSCHED_DATABASE_URL": self.url,
                "TASKSCHED_IMPORTS": "bench.peers.apps.tasksched_app",
                "TASKSCHED_BOOTSTRAP_KEY": self.key,
                "TASKSCHED_RATE_LIMIT": "",
                "TASKSCHED_LOG_LEVEL": "warning",
                "TASKSCHED_LOG_FORMAT": "json",
                "TASKSCHED_PORT": str(self.port),
            }
        )
        return env

    def versions(self) -> dict[str, str]:
        code = "import importlib.metadata as m, platform; print(m.version('tasksched'), platform.python_version())"
        out = subprocess.run(
            [str(SHARED_VENV / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return {"tasksched": f"{out[0]} ({commit})", "python": out[1]}

    def start(self) -> None:
        self.key = "ts_peers_" + uuid.uuid4().hex
        self.port = free_port()
        if self.backend == "sqlite":
            self.folder = Path(tempfile.mkdtemp(prefix="tasksched-peers-"))
            self.url = f"sqlite:///{self.folder / 'bench.db'}"
        else:
            self.database = f"tasksched_peers_{uuid.uuid4().hex[:8]}"
            pg_admin(f'CREATE DATABASE "{self.database}"')
            self.url = pg_url(self.database)
        subprocess.run(
            [*self.tasksched(), "db", "upgrade"], cwd=ROOT, env=self.env(), check=True, capture_output=True
        )
        if self.mode == "serve":
            self.parked = self.start_serve(parked=True)
        else:
            self.api = self.spawn("api", [*self.tasksched(), "api"])
            self.scheduler = self.spawn("scheduler", [*self.tasksched(), "scheduler"])
            self.wait_ready()
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=60,
        )

    def start_serve(self, *, parked: bool) -> Proc:
        """``serve`` runs its worker in the same process: parked, it takes another queue, so runs
        enqueued then stay queued until the unparked ``serve`` (the measured one) starts."""
        env = self.env()
        if parked:
            env["TASKSCHED_WORKER_QUEUES"] = f"parked-{self.run}"
        proc = self.spawn("serve-parked" if parked else "serve", [*self.tasksched(), "serve"], env)
        self.wait_ready()
        return proc

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.label}: the API did not become ready (logs in {self.logs})")

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        for proc in (self.parked, self.api, self.scheduler):
            if proc is not None:
                proc.stop()
        self.parked = self.api = self.scheduler = None
        if self.database:
            pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self.database = ""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def client(self) -> httpx.Client:
        assert self.http is not None
        return self.http

    def create_task(
        self,
        name: str,
        kwargs: dict[str, Any],
        schedule: dict[str, Any] | None = None,
        queue: str = "default",
    ) -> int:
        body: dict[str, Any] = {
            "name": name,
            "action": {"type": "python", "function": "peers.incr", "kwargs": kwargs},
            "concurrency_policy": "allow",
            "queue": queue,
        }
        if schedule is not None:
            body["schedule"] = schedule
        response = self.client().post("/api/tasks", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/tasks answered {response.status_code}: {response.text[:300]}")
        return int(response.json()["id"])

    def batch_path(self) -> tuple[str, dict[str, Any]] | None:
        """The bulk endpoint and its request schema when this checkout's OpenAPI document has one."""
        document = self.client().get("/api/openapi.json").json()
        for path, item in document.get("paths", {}).items():
            if path.endswith("runs:batch") and "post" in item:
                content = item["post"].get("requestBody", {}).get("content", {})
                schema = content.get("application/json", {}).get("schema", {})
                return path, resolve(document, schema)
        return None

    def enqueue(self, key: str, n: int, bulk: bool) -> float | None:
        # Bulk runs go to a queue no worker takes: only their enqueue is measured.
        queue = f"bulk-{self.run}" if bulk else "default"
        task_id = self.create_task(f"drain {key}", {"key": key}, queue=queue)
        client = self.client()
        if not bulk:
            started = time.perf_counter()
            for _ in range(n):
                response = client.post(f"/api/tasks/{task_id}/run")
                if response.status_code != 202:
                    raise RuntimeError(f"POST run answered {response.status_code}: {response.text[:300]}")
            return time.perf_counter() - started
        found = self.batch_path()
        if found is None:
            return None
        path, schema = found
        size = batch_limit(schema)
        started = time.perf_counter()
        for start in range(0, n, size):
            body = batch_body(schema, task_id, min(size, n - start))
            response = client.post(path, json=body)
            if response.status_code >= 300:
                raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
        return time.perf_counter() - started

    def schedule(self, key: str, n: int, due: float) -> float:
        at = datetime.fromtimestamp(due, UTC).isoformat().replace("+00:00", "Z")
        started = time.perf_counter()
        for i in range(n):
            self.create_task(f"late {key} {i}", {"key": key, "due": due}, {"type": "once", "at": at})
        return time.perf_counter() - started

    def start_workers(self, *, for_schedule: bool = False) -> list[Proc]:
        if self.mode == "serve":
            assert self.parked is not None
            self.parked.stop()
            self.parked = None
            return [self.start_serve(parked=False)]
        if self.processes > 1:
            return [self.spawn("worker", [*self.tasksched(), "worker", "--processes", str(self.processes)])]
        return [self.spawn(f"worker{i}", [*self.tasksched(), "worker"]) for i in range(self.worker_count)]

    def stop_workers(self, procs: list[Proc]) -> None:
        super().stop_workers(procs)
        if self.mode == "serve" and self.parked is None:
            self.parked = self.start_serve(parked=True)


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    if "properties" in schema:
        schema = {
            **schema,
            "properties": {k: resolve(document, v) for k, v in schema["properties"].items()},
        }
    if "items" in schema:
        schema = {**schema, "items": resolve(document, schema["items"])}
    return schema


def batch_limit(schema: dict[str, Any], default: int = 1000) -> int:
    """Items per bulk request: ``default``, or fewer when the schema's list allows fewer."""
    lists = [schema] if schema.get("type") == "array" else list(schema.get("properties", {}).values())
    limits = [int(p["maxItems"]) for p in lists if p.get("type") == "array" and "maxItems" in p]
    return min([default, *limits])


def batch_body(schema: dict[str, Any], task_id: int, count: int) -> Any:
    """A bulk request for ``count`` runs of one task, shaped after the endpoint's own schema: a list of
    items (top level, or the first list property) each naming ``task_id``."""
    item = {"task_id": task_id}
    if schema.get("type") == "array":
        return [item] * count
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "array":
            item_props = prop.get("items", {}).get("properties", {})
            if "task_id" in item_props or not item_props:
                return {name: [item] * count}
            if "count" in item_props:
                return {name: [{"task_id": task_id, "count": count}]}
    raise RuntimeError(f"cannot shape a request for the batch schema {json.dumps(schema)[:300]}")


def make(name: str, logs: Path, run: str) -> System:
    systems: dict[str, tuple[type[System], str, dict[str, Any]]] = {
        "celery": (Celery, "Celery (Redis, prefork 2)", {"worker_count": 1}),
        "huey": (Huey, "Huey (Redis, 1 consumer x 2 processes)", {"worker_count": 1}),
        "rq": (RQ, "RQ (Redis, 2 x forking Worker)", {}),
        "rq-simple": (RQSimple, "RQ (Redis, 2 x SimpleWorker)", {}),
        "arq": (Arq, "arq (Redis, 2 workers)", {}),
        "procrastinate": (Procrastinate, "Procrastinate (PostgreSQL, 2 workers)", {}),
        "apscheduler": (APScheduler, "APScheduler 3 (in-process)", {"has_queue": False}),
        "ts-serve-sqlite": (Tasksched, "tasksched `serve` on SQLite", {"mode": "serve", "backend": "sqlite"}),
        "ts-split-sqlite": (
            Tasksched,
            "tasksched SQLite (api + scheduler + 2 x worker)",
            {"mode": "split", "backend": "sqlite"},
        ),
        "ts-split-pg": (
            Tasksched,
            "tasksched PostgreSQL (api + scheduler + 2 x worker)",
            {"mode": "split", "backend": "postgresql"},
        ),
        "ts-prefork-sqlite": (
            Tasksched,
            "tasksched SQLite (api + scheduler + worker --processes 2)",
            {"mode": "split", "backend": "sqlite", "processes": 2},
        ),
        "ts-prefork-pg": (
            Tasksched,
            "tasksched PostgreSQL (api + scheduler + worker --processes 2)",
            {"mode": "split", "backend": "postgresql", "processes": 2},
        ),
    }
    cls, label, attrs = systems[name]
    system = cls(name=name, label=label, logs=logs, run=run)
    for attr, value in attrs.items():
        setattr(system, attr, value)
    return system


ALL = [
    "celery",
    "huey",
    "rq",
    "rq-simple",
    "arq",
    "procrastinate",
    "apscheduler",
    "ts-serve-sqlite",
    "ts-split-sqlite",
    "ts-split-pg",
    "ts-prefork-sqlite",
    "ts-prefork-pg",
]
TASKSCHED = [n for n in ALL if n.startswith("ts-")]


def due_after(seconds: float) -> float:
    """A whole second at least ``seconds`` ahead: exact in every system's time format."""
    return float(math.ceil(time.time() + seconds))


if __name__ == "__main__":
    sys.exit("run python -m bench.peers")
