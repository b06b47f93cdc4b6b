"""The real nginx (Debian's /usr/sbin/nginx) in tests, configured from deploy/nginx.conf.

``render`` turns the shipped file into one for loopback: the instances it forwards to, a free port,
and every path (pid, logs, temporary files) inside the test's own prefix directory. Everything
else — buffering, timeouts, headers, health checks — is the file as shipped. ``running`` starts
nginx in the foreground as a child process and stops it on exit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import missing_service
from tests.helpers.processes import REPO

TEMPLATE = REPO / "deploy" / "nginx.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def render(upstreams: list[str], port: int, prefix: Path, template: Path = TEMPLATE) -> str:
    """deploy/nginx.conf with ``upstreams`` (host:port) as the instances, listening on ``port``."""
    text = template.read_text()
    servers = re.findall(r"^( *)server (\S+) (max_fails=\S+ fail_timeout=\S+);$", text, flags=re.M)
    assert servers, "deploy/nginx.conf lists no upstream servers"
    indent, _, checks = servers[0]
    upstream_lines = "".join(f"{indent}server {u} {checks};\n" for u in upstreams)
    text, count = re.subn(
        r"(?:^ *server \S+ max_fails=\S+ fail_timeout=\S+;\n)+", upstream_lines, text, flags=re.M
    )
    assert count == 1
    text, count = re.subn(r"^( *)listen 80;$", rf"\1listen 127.0.0.1:{port};", text, flags=re.M)
    assert count == 1
    # One worker process: nginx's round robin is per worker, so with one, consecutive requests
    # alternate between the instances in a known order.
    text, count = re.subn(r"^worker_processes \S+;$", "worker_processes 1;", text, flags=re.M)
    assert count == 1
    # The access log says which instance answered each request (tests check the spread).
    text = text.replace(
        "access_log /dev/stdout;",
        "log_format upstreams '$request_method $uri $status $upstream_addr';\n"
        f"    access_log {prefix}/access.log upstreams;",
    )
    # Only the paths nginx would otherwise take from its build (/var/lib/nginx, /run): the test's own.
    temp = "".join(
        f"    {kind}_temp_path {prefix}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    head = f"daemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
    if os.geteuid() == 0:  # else its workers would be nobody, locked out of the test's 0700 temp dirs
        head += "user root;\n"
    return head + text


class Nginx:
    def __init__(self, popen: subprocess.Popen[bytes], port: int, prefix: Path) -> None:
        self.popen = popen
        self.port = port
        self.prefix = prefix
        self.url = f"http://127.0.0.1:{port}"

    def answered_by(self, method: str, uri: str) -> list[str]:
        """The instances (host:port) that answered each ``method uri`` logged so far, in order."""
        path = self.prefix / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line.split(" ", 3)[3] for line in lines if line.startswith(f"{method} {uri} ")]

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running(upstreams: list[str], port: int, prefix: Path, ready_path: str = "/healthz") -> Iterator[Nginx]:
    """nginx in the foreground on ``port`` until the block ends; ready once ``ready_path`` answers 200."""
    binary = nginx_binary()
    if binary is None:
        missing_service("nginx", "nginx is not installed (apt-get install nginx)")
    assert binary is not None
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render(upstreams, port, prefix))
    # -e: the startup error log too, before the config's error_log applies (else /var/log/nginx).
    args = [str(binary), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    popen = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx = Nginx(popen, port, prefix)
    try:
        deadline = time.monotonic() + 10
        while True:
            if popen.poll() is not None:
                raise RuntimeError(f"nginx exited early:\n{nginx.error_log()}")
            try:
                if httpx.get(nginx.url + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx did not answer {ready_path}:\n{nginx.error_log()}")
            time.sleep(0.05)
        yield nginx
    finally:
        if popen.poll() is None:
            popen.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
