"""deploy/k8s: each kustomize overlay rendered with the real `kubectl kustomize`, every resource
validated against Kubernetes' own schemas (the kubernetes-validate package, offline, strict: an
unknown field is an error), then what the schemas cannot see: probes, autoscaling at 70 % CPU,
budgets and selectors that match, references that resolve, resources on every container."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import missing_service
from tests.helpers.processes import REPO

K8S = REPO / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
Resources = list[dict[str, Any]]


def render(path: str) -> Resources:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        missing_service("kubectl", "apt-get install kubectl")
    assert kubectl is not None
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, Resources]:
    return request.param, render(f"overlays/{request.param}")


def named(resources: Resources, kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def containers(resources: Resources) -> Iterator[tuple[str, dict[str, Any]]]:
    for r in resources:
        if r["kind"] in ("Deployment", "Job"):
            for c in r["spec"]["template"]["spec"]["containers"]:
                yield r["metadata"]["name"], c


def test_the_overlays_are_small_and_production() -> None:
    assert OVERLAYS == ["production", "small"]


def test_every_resource_is_valid_kubernetes(overlay: tuple[str, Resources]) -> None:
    _, resources = overlay
    version = kubernetes_validate.latest_version()
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_validation_would_catch_a_mistake() -> None:
    deployment = named(render("overlays/small"), "Deployment")["tasksched-api"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_api_probes_are_healthz_for_liveness_and_readyz_for_readiness(overlay: tuple[str, Resources]) -> None:
    _, resources = overlay
    api = named(resources, "Deployment")["tasksched-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["args"] == ["api"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["ports"] == [{"name": "http", "containerPort": 8000}]
    for name in ("scheduler", "worker"):
        pod = named(resources, "Deployment")[f"tasksched-{name}"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["args"] == [name]
        # No HTTP in these processes: readiness asks the database; no liveness (scheduler.yaml says why).
        assert container["readinessProbe"]["exec"]["command"] == ["tasksched", "db", "current"]
        assert "livenessProbe" not in container
    worker = named(resources, "Deployment")["tasksched-worker"]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > 30  # longer than the default drain


def test_every_container_has_requests_limits_and_runs_unprivileged(overlay: tuple[str, Resources]) -> None:
    _, resources = overlay
    found = 0
    for owner, container in containers(resources):
        found += 1
        assert set(container["resources"]) == {"requests", "limits"}, owner
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}, owner
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, owner
    assert found == 4
    for r in resources:
        if r["kind"] in ("Deployment", "Job"):
            assert r["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_migration_job_upgrades_on_the_direct_connection(overlay: tuple[str, Resources]) -> None:
    _, resources = overlay
    job = named(resources, "Job")["tasksched-migrate"]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["db", "upgrade"]
    (env,) = job["env"]
    assert env["name"] == "TASKSCHED_DATABASE_URL"
    assert env["valueFrom"]["secretKeyRef"]["key"] == "TASKSCHED_LISTEN_URL"


def test_references_resolve(overlay: tuple[str, Resources]) -> None:
    _, resources = overlay
    configmaps, secrets = named(resources, "ConfigMap"), named(resources, "Secret")
    for owner, container in containers(resources):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps, owner
            if "secretRef" in source:
                assert source["secretRef"]["name"] in secrets, owner
        for env in container.get("env", []):
            ref = env["valueFrom"]["secretKeyRef"]
            assert ref["key"] in secrets[ref["name"]]["stringData"], owner
    pods = {
        name: d["spec"]["template"]["metadata"]["labels"]
        for name, d in named(resources, "Deployment").items()
    }

    def selects(selector: dict[str, str]) -> list[str]:
        return [name for name, labels in pods.items() if selector.items() <= labels.items()]

    for name, service in named(resources, "Service").items():
        assert selects(service["spec"]["selector"]) == ["tasksched-api"], name
    for name, budget in named(resources, "PodDisruptionBudget").items():
        assert selects(budget["spec"]["selector"]["matchLabels"]) == [name], name
    for name, hpa in named(resources, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["scaleTargetRef"]["name"] in pods, name
    for ingress in named(resources, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] in named(resources, "Service")


def test_production_autoscales_at_70_percent_cpu_and_keeps_budgets() -> None:
    resources = render("overlays/production")
    hpas = named(resources, "HorizontalPodAutoscaler")
    assert sorted(hpas) == ["tasksched-api", "tasksched-worker"]
    for hpa in hpas.values():
        assert hpa["spec"]["metrics"] == [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        ]
        assert hpa["spec"]["minReplicas"] >= 2
    assert sorted(named(resources, "PodDisruptionBudget")) == [
        "tasksched-api",
        "tasksched-scheduler",
        "tasksched-worker",
    ]
    deployments = named(resources, "Deployment")
    assert all(d["spec"]["replicas"] >= 2 for d in deployments.values())
    config = named(resources, "ConfigMap")["tasksched-config"]["data"]
    assert config["TASKSCHED_DATABASE_POOLING"] == "transaction"
    assert (
        "@pgbouncer:"
        in named(resources, "Secret")["tasksched-secrets"]["stringData"]["TASKSCHED_DATABASE_URL"]
    )
    ingress = named(resources, "Ingress")["tasksched"]["metadata"]["annotations"]
    assert ingress["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"  # SSE


def test_small_is_one_replica_of_each_without_autoscaling_or_redis() -> None:
    resources = render("overlays/small")
    assert {name: d["spec"]["replicas"] for name, d in named(resources, "Deployment").items()} == {
        "tasksched-api": 1,
        "tasksched-scheduler": 1,
        "tasksched-worker": 1,
    }
    assert named(resources, "HorizontalPodAutoscaler") == {}
    assert named(resources, "PodDisruptionBudget") == {}
    config = named(resources, "ConfigMap")["tasksched-config"]["data"]
    assert "TASKSCHED_REDIS_URL" not in config
    url = named(resources, "Secret")["tasksched-secrets"]["stringData"]["TASKSCHED_DATABASE_URL"]
    assert url.startswith("postgresql://")  # never SQLite: pods share no file
