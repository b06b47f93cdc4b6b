"""A PgBouncer of a test's own, in transaction-pooling mode, in front of one PostgreSQL database.

Debian's ``pgbouncer`` binary runs as a child process on a free port with a generated ini file.
It refuses to run as root unless told which user to become: as root it runs as ``postgres`` (the
ini and its directory are handed to that user). Fault tests stop it (SIGKILL: as a crash would)
and start it again on the same port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import missing_service
from tests.helpers.processes import free_port

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# Small on purpose: fewer server connections than clients is what transaction pooling is for,
# and it makes consecutive transactions of one client land on different server connections.
POOL_SIZE = 4


class PgBouncer:
    def __init__(
        self,
        target_url: str,
        root: Path,
        port: int,
        *,
        pool_size: int = POOL_SIZE,
        pool_mode: str = "transaction",
    ) -> None:
        target = make_url(target_url)
        self.database = target.database or "postgres"
        self.port = port
        self.root = root
        self.log = root / "pgbouncer.log"
        self.url = f"postgresql://{target.username or 'postgres'}@127.0.0.1:{port}/{self.database}"
        self.ini = root / "pgbouncer.ini"
        self.ini.write_text(
            "[databases]\n"
            f"{self.database} = host={target.host or '127.0.0.1'} port={target.port or 5432}"
            f" dbname={self.database}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {root / 'users.txt'}\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.log}\n"
            "server_login_retry = 1\n"
        )
        (root / "users.txt").write_text(f'"{target.username or "postgres"}" ""\n')
        self._user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
            for path in (self.ini, root / "users.txt"):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._user = ["-u", "postgres"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [BINARY, *self._user, str(self.ini)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"pgbouncer did not listen within {timeout} s:\n{self.log_text()}")

    def kill(self) -> None:
        """Stop dead, as a crash would: every client and server connection is cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        """Freeze it (SIGSTOP): its connections stay open but nothing answers, as on a dead path."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def own_pgbouncer(target_url: str, *, pool_mode: str = "transaction") -> Iterator[PgBouncer]:
    """A running PgBouncer in front of ``target_url``'s database; skips when it is not installed."""
    if not Path(BINARY).exists():
        missing_service("pgbouncer", f"{BINARY} is not installed")
    with tempfile.TemporaryDirectory(prefix="tasksched-pgbouncer-") as tmp:
        bouncer = PgBouncer(target_url, Path(tmp), free_port(), pool_mode=pool_mode)
        bouncer.start()
        try:
            yield bouncer
        finally:
            if bouncer.proc is not None:
                bouncer.resume()
            bouncer.kill()
