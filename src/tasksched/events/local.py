"""Carrying events between processes that share one SQLite file, through Unix datagram sockets.

SQLite has no LISTEN/NOTIFY, and processes on one file are on one machine, so they wake each other
through the file system: a directory beside the database (``<file>.events/``) holds one datagram
socket per process, named ``<pid>-<origin>.sock``. A process sends a batch with one ``sendto``
to every socket in the directory but its own; it reads its own socket from the event loop. No
broker, no process that must run first, nothing to configure: whoever opens the file joins.

Why datagram sockets: a send never blocks and needs no connection to keep (a receiver that died
leaves a socket file nobody reads, which ``sendto`` reports at once as refused, and the sender
deletes it: stale sockets of killed processes go at the next send, or at the next start); a
datagram arrives whole or not at all; and the socket files carry the database file's permissions,
so only who may write the database may wake its processes. A FIFO per process would need the same
directory and stale-file handling, but a writer cannot tell a dead reader from a slow one.

What can be lost, and how receivers hear of it (they re-read the database on ``resync``):

- a receiver too far behind (the kernel queues a few datagrams per socket): the sender sends it
  a small ``resync`` as soon as its queue has room again;
- an event larger than a datagram may carry: a ``resync`` goes in its place;
- this process's socket file deleted, or the directory replaced (a clean-up of the folder): the
  relay checks its socket every second, binds a new one, and says ``resync`` itself.

The scheduler's and workers' slow safety polls stay the net under all of it. A path too long for
a socket address (about 100 bytes) goes through ``/proc/self/fd`` on Linux.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import sys
import uuid
from pathlib import Path

import structlog

from tasksched.events import wire
from tasksched.events.bus import RESYNC, Event, EventBus

log = structlog.get_logger("tasksched.notify")

# A batch's events in one datagram; the socket buffers are sized well above it.
MAX_PAYLOAD = 32 * 1024
_RECV_BYTES = 4 * MAX_PAYLOAD
_BUFFER_BYTES = 4 * 1024 * 1024
CHECK_SECONDS = 1.0
_RESEND_FIRST_SECONDS = 0.02
_RESEND_MAX_SECONDS = 1.0
# sun_path holds 108 bytes on Linux and 104 on macOS, with its terminating NUL.
_MAX_ADDRESS = 100
_SUFFIX = ".sock"


def events_dir(database_file: str | os.PathLike[str]) -> Path:
    """The directory of sockets beside a SQLite file: ``tasks.db`` → ``tasks.db.events``."""
    path = Path(database_file).absolute()
    return path.with_name(path.name + ".events")


class LocalRelay:
    def __init__(self, database_file: str | os.PathLike[str], bus: EventBus) -> None:
        self._database = Path(database_file).absolute()
        self.directory = events_dir(database_file)
        self._bus = bus
        self._origin = uuid.uuid4().hex
        # Its socket's file name, without the suffix (an operator's view; the tests cut it).
        self.client_name = f"{os.getpid()}-{self._origin[:12]}"
        self._sock: socket.socket | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of our socket file
        self._dir_identity: tuple[int, int] | None = None
        self._dir_fd: int | None = None
        self._generation = 0
        self._behind: dict[str, float] = {}  # peers owed a resync → seconds until the next try
        self._resend: asyncio.TimerHandle | None = None
        self._stopped = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._warned: set[str] = set()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def socket_path(self) -> Path:
        return self.directory / f"{self.client_name}{_SUFFIX}"

    async def start(self) -> None:
        try:
            self._bind()
        except OSError as exc:
            log.warning(
                "event relay cannot use its socket directory; wake-ups use the safety polls until it can",
                directory=str(self.directory),
                error=str(exc),
            )
        else:
            self._sweep()
        self._supervisor = asyncio.create_task(self._supervise(), name="tasksched-local-relay")

    def stop(self) -> None:
        self._stopped.set()
        if self._resend is not None:
            self._resend.cancel()
        self._close()

    async def wait_closed(self) -> None:
        if self._supervisor is not None:
            await self._supervisor

    # -- the socket ------------------------------------------------------------------------

    def _modes(self) -> tuple[int, int, int]:
        """The directory's and a socket's modes, and the group, following the database file's:
        who may write the file may send (a socket takes write permission to send to)."""
        try:
            st = self._database.stat()
        except OSError:
            return 0o700, 0o600, -1
        file_mode = stat.S_IMODE(st.st_mode) & 0o666 | 0o600
        return file_mode | (file_mode & 0o444) >> 2, file_mode, st.st_gid

    def _prepare_directory(self) -> None:
        dir_mode, _, gid = self._modes()
        with contextlib.suppress(FileExistsError):
            self.directory.mkdir(mode=0o700)
            # Exactly the modes wanted (mkdir's are narrowed by the umask), then the file's group.
            os.chmod(self.directory, dir_mode)
            if gid != -1:
                with contextlib.suppress(OSError):
                    os.chown(self.directory, -1, gid)
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None
        st = os.stat(self.directory)
        self._dir_identity = (st.st_dev, st.st_ino)
        if len(os.fsencode(self.socket_path)) > _MAX_ADDRESS:
            if not sys.platform.startswith("linux"):
                raise OSError(f"the path {self.directory} is too long for a socket address")
            self._dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)

    def _address(self, name: str) -> str:
        if self._dir_fd is not None:
            return f"/proc/self/fd/{self._dir_fd}/{name}"
        return str(self.directory / name)

    def _bind(self) -> None:
        self._close()
        self._prepare_directory()
        self._generation += 1
        self.client_name = f"{os.getpid()}-{self._origin[:12]}-{self._generation}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, _BUFFER_BYTES)
            sock.bind(self._address(self.client_name + _SUFFIX))
            _, sock_mode, gid = self._modes()
            os.chmod(self.socket_path, sock_mode)
            if gid != -1:
                with contextlib.suppress(OSError):
                    os.chown(self.socket_path, -1, gid)
            st = os.stat(self.socket_path)
        except BaseException:
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)
            raise
        self._identity = (st.st_dev, st.st_ino)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
            with contextlib.suppress(OSError):
                st = os.stat(self.socket_path)
                if (st.st_dev, st.st_ino) == self._identity:  # ours, not a namesake's
                    os.unlink(self.socket_path)
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    def _still_bound(self) -> bool:
        """Our socket file and the directory are still the ones we bound (not deleted, not replaced)."""
        try:
            st, dst = os.stat(self.socket_path), os.stat(self.directory)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity and (dst.st_dev, dst.st_ino) == self._dir_identity

    async def _supervise(self) -> None:
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), CHECK_SECONDS)
            if self._stopped.is_set():
                break
            if self._sock is not None and self._still_bound():
                continue
            had_socket = self._sock is not None
            if had_socket:
                log.warning(
                    "event relay lost its socket file; binding a new one", directory=str(self.directory)
                )
            try:
                self._bind()
            except OSError as exc:
                log.debug("event relay cannot bind its socket", error=str(exc))
                continue
            log.info("event relay bound its socket again" if had_socket else "event relay bound its socket")
            self._sweep()
            # Whatever was sent to the old socket meanwhile is lost: re-read.
            self._bus.deliver_local([Event(RESYNC)])
        self._close()

    # -- receiving -------------------------------------------------------------------------

    def _on_readable(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                payload = sock.recv(_RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("event relay receive failed", error=str(exc))
                return
            if events := wire.decode(self._origin, payload):
                self._bus.deliver_local(events)

    # -- sending ---------------------------------------------------------------------------

    def _peers(self) -> list[str]:
        own = self.client_name + _SUFFIX
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return [n for n in names if n.endswith(_SUFFIX) and n != own]

    def _sweep(self) -> None:
        """Delete the sockets nobody reads any more (their processes were killed)."""
        for name in self._peers():
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
                try:
                    probe.connect(self._address(name))
                except ConnectionRefusedError:
                    self._remove_stale(name)
                except OSError:
                    pass

    def _remove_stale(self, name: str) -> None:
        # Names are never reused (pid, random origin, generation), so nobody can have bound it since.
        with contextlib.suppress(OSError):
            os.unlink(self.directory / name)
            log.debug("event relay removed a stale socket", socket=name)

    def _send_to(self, name: str, data: bytes) -> bool:
        """False when the peer's queue is full (it is owed a resync); a dead peer's file is removed."""
        sock = self._sock
        if sock is None:
            return True
        try:
            sock.sendto(data, self._address(name))
        except (BlockingIOError, InterruptedError):
            return False
        except ConnectionRefusedError:
            self._remove_stale(name)
        except FileNotFoundError:
            pass  # it stopped meanwhile
        except OSError as exc:
            if name not in self._warned:  # say it once per peer (a socket of another user's, say)
                self._warned.add(name)
                log.warning("event relay cannot send to a socket", socket=name, error=str(exc))
        return True

    async def send(self, events: list[Event]) -> None:
        if self._sock is None or not (peers := self._peers()):
            return  # alone on the file (or not bound): nothing to encode
        payloads = [
            p.encode() for p in wire.encode(self._origin, events, MAX_PAYLOAD, oversized=Event(RESYNC))
        ]
        for name in peers:
            if name in self._behind:
                continue  # it gets a resync once it has room; what it misses meanwhile that covers
            for data in payloads:
                if not self._send_to(name, data):
                    self._owe_resync(name, _RESEND_FIRST_SECONDS)
                    break

    def _owe_resync(self, name: str, delay: float) -> None:
        self._behind[name] = delay
        if self._resend is None and not self._stopped.is_set():
            self._resend = asyncio.get_running_loop().call_later(delay, self._resend_resyncs)

    def _resend_resyncs(self) -> None:
        self._resend = None
        data = wire.encode(self._origin, [Event(RESYNC)], MAX_PAYLOAD)[0].encode()
        owed, self._behind = self._behind, {}
        for name, delay in owed.items():
            if not self._send_to(name, data):
                self._owe_resync(name, min(delay * 2, _RESEND_MAX_SECONDS))
