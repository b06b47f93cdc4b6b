"""`python -m build` of this checkout gives an sdist and a wheel that carry the built web UI, and
`pip install` of either (into a fresh virtualenv, offline) serves it: GET / is the UI's index.html
and its assets load. The fresh venv sees the test venv's packages for the dependencies only (a .pth
line, so the shared venv's own install of tasksched stays out of it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.helpers.dockerfile import copy_sources, stages
from tests.helpers.processes import REPO, free_port

pytestmark = pytest.mark.slow

KEY = "ts_pkg_admin_key_0123456789"


def _run(args: list[str], **kwargs: object) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    out: str = done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: hatchling from this venv, no download. The wheel is built from the sdist.
    log = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)])
    assert "Building wheel from sdist" in log
    return {"sdist": next(out.glob("*.tar.gz")), "wheel": next(out.glob("*.whl"))}


def _clean_env() -> dict[str, str]:
    # Nothing of this checkout on the path: the installed package must stand on its own.
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("TASKSCHED_")}


def _fresh_venv(root: Path) -> Path:
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    )
    (site / "shared-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _install(python: Path, dist: Path) -> str:
    return _run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation", str(dist)],
        env=_clean_env(),
        cwd=dist.parent,
    )


def test_the_sdist_and_the_wheel_carry_the_built_ui(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = sdist.getnames()
    root = names[0].split("/")[0]
    assert f"{root}/src/tasksched/web/index.html" in names
    assert any(n.startswith(f"{root}/src/tasksched/web/assets/") and n.endswith(".js") for n in names)
    assert f"{root}/web/package.json" in names  # the UI's sources too
    assert not any("/node_modules/" in n for n in names)
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = wheel.namelist()
    assert "tasksched/web/index.html" in names
    assert any(n.startswith("tasksched/web/assets/") and n.endswith(".js") for n in names)
    assert not any(n.startswith(("web/", "tests/")) for n in names)


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_an_installed_package_serves_the_ui(kind: str, dists: dict[str, Path], tmp_path: Path) -> None:
    python = _fresh_venv(tmp_path / "venv")
    log = _install(python, dists[kind])
    assert "building the web UI" not in log  # an sdist ships the build: no Node.js needed
    where = _run([str(python), "-c", "import tasksched; print(tasksched.__file__)"], env=_clean_env())
    assert where.strip().startswith(str(tmp_path / "venv")), where

    port = free_port()
    env = {
        **_clean_env(),
        "TASKSCHED_DATABASE_URL": f"sqlite:///{tmp_path / 'pkg.db'}",
        "TASKSCHED_BOOTSTRAP_KEY": KEY,
        "TASKSCHED_PORT": str(port),
    }
    with (tmp_path / "serve.log").open("wb") as out:
        proc = subprocess.Popen(
            [str(tmp_path / "venv" / "bin" / "tasksched"), "serve"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=out,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        index = httpx.get(base + "/", timeout=5)
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text)
        assert any(a.endswith(".js") for a in assets), index.text
        for asset in assets:
            assert httpx.get(base + asset, timeout=5).status_code == 200, asset
    finally:
        proc.terminate()
        proc.wait(20)


def _wheel_stage_tree(root: Path, *, with_ui: bool) -> Path:
    """What deploy/Dockerfile's wheel stage has: the checkout paths its COPYs name, and (from the UI
    stage) the built UI, here taken from this checkout's build."""
    stage = next(st for st in stages() if st.name == "wheel")
    root.mkdir()
    for copy in stage.all("COPY"):
        source_stage, paths = copy_sources(copy)
        if source_stage is not None:
            continue
        for path in paths:
            source = REPO / path
            if source.is_dir():
                shutil.copytree(source, root / path, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, root / path)
    web = root / "src" / "tasksched" / "web"
    for item in web.iterdir():  # only the package marker: .dockerignore leaves the build out
        if item.is_dir():
            shutil.rmtree(item)
        elif item.name != "__init__.py":
            item.unlink()
    if with_ui:
        shutil.copytree(REPO / "src" / "tasksched" / "web", web, dirs_exist_ok=True)
    return root


def test_the_image_s_wheel_stage_builds_a_wheel_with_the_ui(tmp_path: Path) -> None:
    tree = _wheel_stage_tree(tmp_path / "build", with_ui=True)
    args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    _run([*args, "--wheel-dir", str(tmp_path / "wheels"), str(tree)], env=_clean_env())
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    with zipfile.ZipFile(wheel) as built:
        assert "tasksched/web/index.html" in built.namelist()


def test_a_build_without_the_ui_fails_and_says_why(tmp_path: Path) -> None:
    tree = _wheel_stage_tree(tmp_path / "build", with_ui=False)
    args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run(
        [*args, "--wheel-dir", str(tmp_path / "wheels"), str(tree)],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "the web UI is not built" in done.stdout + done.stderr
