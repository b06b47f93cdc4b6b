"""One virtual environment per peer under a cache folder, installed with pip by package name."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench-venvs"

# What each peer's environment installs (pip requirement strings) and the distributions to report.
REQUIREMENTS: dict[str, list[str]] = {
    "celery": ["celery[redis]>=5.5,<6", "redis>=5,<9"],
    "huey": ["huey>=2.5,<4", "redis>=5,<9"],
    "rq": ["rq>=2,<3", "redis>=5,<9"],
    "arq": ["arq>=0.26,<0.29", "redis>=5,<9"],
    "procrastinate": ["procrastinate>=3,<4", "psycopg[binary]>=3.2,<4", "redis>=5,<9"],
    "apscheduler": ["apscheduler>=3.10,<4", "redis>=5,<9"],
}
DISTRIBUTIONS: dict[str, list[str]] = {
    "celery": ["celery", "kombu", "redis"],
    "huey": ["huey", "redis"],
    "rq": ["rq", "redis"],
    "arq": ["arq", "redis"],
    "procrastinate": ["procrastinate", "psycopg", "redis"],
    "apscheduler": ["apscheduler", "redis"],
}


@dataclass(frozen=True)
class Env:
    name: str
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, command: str) -> Path:
        return self.path / "bin" / command

    def versions(self) -> dict[str, str]:
        names = json.dumps(DISTRIBUTIONS[self.name])
        code = (
            "import importlib.metadata as m, json, platform;"
            f"print(json.dumps({{**{{n: m.version(n) for n in {names}}}, 'python': platform.python_version()}}))"
        )
        out = subprocess.run([self.python, "-c", code], check=True, capture_output=True, text=True).stdout
        return dict(json.loads(out))


def ensure(name: str, *, log: bool = True) -> Env:
    """The peer's environment, created and installed on first use (a marker file records what)."""
    path = CACHE / name
    marker = path / ".requirements.json"
    wanted = json.dumps(REQUIREMENTS[name])
    env = Env(name, path)
    if marker.exists() and marker.read_text() == wanted:
        return env
    if log:
        print(f"[peers] installing {name} into {path}: {' '.join(REQUIREMENTS[name])}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.run(
        [env.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS[name]],
        check=True,
        stdout=sys.stderr,
    )
    marker.write_text(wanted)
    return env
