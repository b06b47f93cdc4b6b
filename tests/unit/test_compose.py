"""deploy/compose.yaml against the Compose Specification's JSON schema (tests/data/README.md says
where it comes from), and what the schema cannot see: the services this deployment needs, names
that refer to each other, files that exist, nginx's upstreams matching the API services."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import missing_service
from tests.helpers.processes import REPO

DEPLOY = REPO / "deploy"
SCHEMA = REPO / "tests" / "data" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_would_catch_a_mistake(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["replica"] = 2  # a typo for deploy.replicas
    assert not jsonschema.Draft201909Validator(schema).is_valid(broken)


def test_it_runs_every_part_of_the_split_deployment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "pgbouncer", "redis", "api-1", "api-2", "nginx", "prometheus", "migrate"):
        assert name in services
    assert [services[f"api-{i}"]["command"] for i in (1, 2)] == [["api"], ["api"]]
    for name in ("scheduler", "worker"):
        assert services[name]["command"] == [name]
        assert services[name]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    for name in ("api-1", "api-2", "scheduler", "worker"):
        env = services[name]["environment"]
        assert "@pgbouncer:" in env["TASKSCHED_DATABASE_URL"]
        assert env["TASKSCHED_REDIS_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_names_and_files_it_refers_to_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", [])
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services, f"{name} depends on {other}, which is not a service"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in compose.get("volumes", {}), f"{name} mounts an undeclared volume {source}"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_nginx_forwards_to_the_api_services(compose: dict[str, Any]) -> None:
    upstreams = re.findall(r"^\s*server (\S+):(\d+) ", (DEPLOY / "nginx.conf").read_text(), flags=re.M)
    assert sorted(upstreams) == [("api-1", "8000"), ("api-2", "8000")]
    for name, _ in upstreams:
        assert compose["services"][name]["expose"] == ["8000"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in compose["services"]["nginx"]["volumes"]


def test_the_prometheus_config_is_valid_and_scrapes_the_api(compose: dict[str, Any]) -> None:
    config = DEPLOY / "prometheus" / "compose.yml"
    targets = yaml.safe_load(config.read_text())["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == ["api-1:8000", "api-2:8000"]
    assert (
        "--config.file=/etc/prometheus/tasksched/compose.yml" in compose["services"]["prometheus"]["command"]
    )
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_service("promtool", "apt-get install prometheus")
    assert promtool is not None
    # --syntax-only: the rules file it names comes with the monitoring files (checked there).
    args = [promtool, "check", "config", "--syntax-only", str(config)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    if (config.parent / "alerts.yml").exists():
        done = subprocess.run(
            [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_two_api_services_differ_only_in_name(compose: dict[str, Any]) -> None:
    assert compose["services"]["api-1"] == compose["services"]["api-2"]
