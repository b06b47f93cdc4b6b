"""deploy/Dockerfile's structure (no Docker here to build it): a Node stage builds the UI, a Python
stage builds the wheel with it, the final stage runs as a user that is not root, with a health
check on /healthz and the entrypoint script; every path it copies from the checkout exists."""

from __future__ import annotations

import json

from tests.helpers.dockerfile import copy_sources, healthcheck_command, stages
from tests.helpers.processes import REPO


def test_a_node_stage_builds_the_ui_and_a_python_stage_the_wheel() -> None:
    ui, wheel, final = stages()
    assert ui.image.startswith("node:")
    assert any("scripts/build-ui" in run for run in ui.all("RUN"))
    assert "npm ci" in (REPO / "scripts" / "build-ui").read_text()  # what build-ui runs first
    assert wheel.image.startswith("python:")
    assert ui.name is not None
    assert f"--from={ui.name}" in " ".join(wheel.all("COPY"))
    assert any("pip wheel" in run for run in wheel.all("RUN"))
    assert final.image.startswith("python:")
    assert any(f"--from={wheel.name}" in copy for copy in final.all("COPY"))
    assert not any("node" in run or "npm" in run for run in final.all("RUN"))  # no Node.js at run time


def test_the_final_stage_runs_unprivileged_with_a_health_check_and_the_entrypoint() -> None:
    final = stages()[-1]
    user = final.last("USER")
    assert user is not None
    name = user.split(":")[0]
    assert name not in ("root", "0")
    assert name.isdigit()  # numeric: Kubernetes' runAsNonRoot can check it without /etc/passwd
    assert "/healthz" in " ".join(healthcheck_command())
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None
    assert json.loads(entrypoint) == ["docker-entrypoint.sh"]
    assert any(copy.startswith("deploy/docker-entrypoint.sh /usr/local/bin/") for copy in final.all("COPY"))
    assert json.loads(final.last("CMD") or "null") == ["serve"]


def test_every_path_copied_from_the_checkout_exists() -> None:
    for stage in stages():
        for copy in stage.all("COPY"):
            source_stage, paths = copy_sources(copy)
            if source_stage is not None:
                continue
            for path in paths:
                assert (REPO / path).exists(), f"COPY {path}: no such file in the checkout"
    assert (REPO / "deploy" / "docker-entrypoint.sh").stat().st_mode & 0o111  # executable
