"""The socket relay's own cases, beyond the relay contract: stale sockets of killed processes go,
what cannot be carried (an event too large for a datagram, a receiver too far behind) arrives as
``resync`` instead of vanishing, the sockets carry the database file's permissions, and a path too
long for a socket address or a deleted directory still works; Redis, when set, is used instead."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksched import runtime
from tasksched.events import wire
from tasksched.events.bus import RESYNC, RUN_CREATED, TASK_UPDATED, Event, EventBus, Subscription
from tasksched.events.local import MAX_PAYLOAD, LocalRelay, events_dir
from tasksched.events.redis import RedisRelay
from tests.conftest import make_settings


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.db"
    path.touch(mode=0o600)
    return path


class Relays:
    def __init__(self, database: Path) -> None:
        self.database = database
        self.started: list[LocalRelay] = []

    async def start(self, bus: EventBus) -> LocalRelay:
        relay = LocalRelay(self.database, bus)
        await relay.start()
        bus.attach_relay(relay)
        self.started.append(relay)
        return relay


@pytest.fixture
async def relays(database: Path) -> AsyncIterator[Relays]:
    made = Relays(database)
    yield made
    for relay in made.started:
        relay.stop()
        await asyncio.wait_for(relay.wait_closed(), 5)


async def _receive(sub: Subscription, count: int, timeout: float = 5.0) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            events.append(await sub.get())
    return events


def _sockets(database: Path) -> set[str]:
    return {p.name for p in events_dir(database).glob("*.sock")}


def _killed_process_socket(directory: Path) -> str:
    """A socket file left behind by a process killed with SIGKILL (it never unlinked it)."""
    code = (
        "import socket, sys, time\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
        f"s.bind({str(directory / '999999-dead.sock')!r})\n"
        "print('bound', flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"bound"
        proc.send_signal(signal.SIGKILL)
    return "999999-dead.sock"


async def test_sockets_of_killed_processes_are_removed_on_start_and_on_send(
    relays: Relays, database: Path
) -> None:
    directory = events_dir(database)
    directory.mkdir()
    stale = _killed_process_socket(directory)
    a = EventBus()
    relay_a = await relays.start(a)
    assert _sockets(database) == {f"{relay_a.client_name}.sock"}  # swept at start
    b = EventBus()
    relay_b = await relays.start(b)
    stale = _killed_process_socket(directory)
    assert stale in _sockets(database)
    on_b = b.subscribe()
    a.publish(Event(TASK_UPDATED, {"id": 1}))
    assert await _receive(on_b, 1) == [Event(TASK_UPDATED, {"id": 1})]
    # The send found it refused and removed it; the live ones stay.
    assert _sockets(database) == {f"{relay_a.client_name}.sock", f"{relay_b.client_name}.sock"}


async def test_an_event_too_large_for_a_datagram_arrives_as_resync(relays: Relays) -> None:
    a, b = EventBus(), EventBus()
    await relays.start(a)
    await relays.start(b)
    on_b = b.subscribe()
    huge = Event(TASK_UPDATED, {"id": 2, "pad": "x" * (MAX_PAYLOAD + 1)})
    a.publish(Event(TASK_UPDATED, {"id": 1}), huge, huge, Event(TASK_UPDATED, {"id": 3}))
    got = await _receive(on_b, 3)
    assert got == [Event(TASK_UPDATED, {"id": 1}), Event(RESYNC), Event(TASK_UPDATED, {"id": 3})]


async def test_a_receiver_too_far_behind_gets_resync_once_it_reads_again(
    relays: Relays, database: Path
) -> None:
    a = EventBus()
    await relays.start(a)
    # A receiver whose loop does not read (busy elsewhere): a socket the test reads only later.
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as slow:
        slow.bind(str(events_dir(database) / "1-slow.sock"))
        slow.setblocking(False)
        for i in range(50):  # one datagram per loop iteration: far more than the kernel queues
            a.publish(Event(RUN_CREATED, {"id": i}))
            await asyncio.sleep(0)
        received: list[Event] = []
        async with asyncio.timeout(5):
            while not received or received[-1] != Event(RESYNC):
                try:
                    received.extend(wire.decode("test", slow.recv(1 << 20)))
                except BlockingIOError:
                    await asyncio.sleep(0.01)
    ids = [e.data["id"] for e in received if e.type == RUN_CREATED]
    assert ids == list(range(len(ids)))  # in order,
    assert len(ids) < 50  # then some could not be queued: the resync stood for them


async def test_the_directory_and_sockets_take_the_database_files_permissions(
    relays: Relays, database: Path
) -> None:
    database.chmod(0o640)
    relay = await relays.start(EventBus())
    assert stat.S_IMODE(events_dir(database).stat().st_mode) == 0o750
    assert stat.S_IMODE(relay.socket_path.stat().st_mode) == 0o640
    assert events_dir(database).stat().st_gid == database.stat().st_gid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="long socket paths go through /proc")
async def test_a_path_too_long_for_a_socket_address_works(tmp_path: Path) -> None:
    folder = tmp_path / ("d" * 60) / ("e" * 60)
    folder.mkdir(parents=True)
    database = folder / "tasks.db"
    database.touch()
    made = Relays(database)
    try:
        a, b = EventBus(), EventBus()
        relay_a = await made.start(a)
        await made.start(b)
        assert len(os.fsencode(relay_a.socket_path)) > 108
        on_b = b.subscribe()
        a.publish(Event(TASK_UPDATED, {"id": 1}))
        assert await _receive(on_b, 1) == [Event(TASK_UPDATED, {"id": 1})]
    finally:
        for relay in made.started:
            relay.stop()
            await relay.wait_closed()


async def test_a_deleted_directory_comes_back_and_both_say_resync(relays: Relays, database: Path) -> None:
    a, b = EventBus(), EventBus()
    await relays.start(a)
    await relays.start(b)
    on_a, on_b = a.subscribe(), b.subscribe()
    for path in events_dir(database).iterdir():
        path.unlink()
    events_dir(database).rmdir()
    assert [e.type for e in await _receive(on_a, 1)] == [RESYNC]
    assert [e.type for e in await _receive(on_b, 1)] == [RESYNC]
    a.publish(Event(TASK_UPDATED, {"id": 1}))
    assert await _receive(on_b, 1) == [Event(TASK_UPDATED, {"id": 1})]
    b.publish(Event(TASK_UPDATED, {"id": 2}))
    assert await _receive(on_a, 2) == [Event(TASK_UPDATED, {"id": 1}), Event(TASK_UPDATED, {"id": 2})]


@pytest.mark.parametrize(
    "redis", [False, pytest.param(True, marks=pytest.mark.redis)], ids=["alone", "redis"]
)
async def test_a_process_on_a_sqlite_file_starts_the_socket_relay_unless_redis_is_set(
    tmp_path: Path, request: pytest.FixtureRequest, redis: bool
) -> None:
    database = tmp_path / "tasks.db"
    overrides = {"redis_url": request.getfixturevalue("redis_url")} if redis else {}
    ctx = await runtime.open_context(make_settings(f"sqlite:///{database}", **overrides), schema="upgrade")
    try:
        stop = await runtime.start_relay(ctx)
        assert stop is not None
        relay = ctx.bus._relay
        assert isinstance(relay, RedisRelay if redis else LocalRelay)
        assert bool(_sockets(database)) is not redis
        stop()
        await relay.wait_closed()
    finally:
        await ctx.close()
    assert _sockets(database) == set()
