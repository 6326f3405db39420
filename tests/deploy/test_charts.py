"""The Helm charts: lint clean, render (default values and every example values file), every object valid against
the Kubernetes schemas, each service's rendered config accepted by the service's own `check-config`, and the
properties a cluster operator relies on (security context, probes, RBAC, multi-cluster wiring, migrations hook).
See charts.py for what rendering with Helm's library here does and does not exercise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python import lint
from helm_python.errors import HelmValuesError

from .charts import (
    CHARTS,
    RELEASE,
    REPO,
    SERVICE_CHARTS,
    UMBRELLA,
    Case,
    all_cases,
    example_values,
    named,
    of_kind,
    pod_specs,
    render,
    service_config,
)

KUBERNETES_VERSION = "1.33"
CASES = all_cases()
# Helm lint severities: 1 info ("icon is recommended"), 2 warning, 3 error.
WARNING = 2


@pytest.fixture(scope="module", params=CASES, ids=[case.id for case in CASES])
def rendered(request: pytest.FixtureRequest) -> tuple[Case, list[dict[str, Any]]]:
    case: Case = request.param
    return case, render(case.chart, case.values())


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_chart_lints_clean(case: Case) -> None:
    report = lint(CHARTS / case.chart, case.values(), strict=True, with_subcharts=True)
    problems = [m for m in report["messages"] if m["severity"] >= WARNING]
    assert not problems and not report["errors"], report


def test_every_object_validates_against_the_kubernetes_schemas(rendered: tuple[Case, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    assert objects
    for obj in objects:
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            # The Prometheus Operator's CRD schema is not in kubernetes-validate: check the fields we set.
            assert obj["kind"] == "ServiceMonitor"
            endpoint = obj["spec"]["endpoints"][0]
            assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
            assert obj["spec"]["selector"]["matchLabels"]
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_each_service_accepts_its_rendered_config(rendered: tuple[Case, list[dict[str, Any]]], tmp_path: Path) -> None:
    _, objects = rendered
    services = [obj["metadata"]["labels"]["app.kubernetes.io/name"] for obj in of_kind(objects, "Deployment")]
    assert services
    for service in services:
        config = service_config(objects, service)
        path = tmp_path / f"{service}.yaml"
        path.write_text(yaml.safe_dump(config))
        command = [str(Path(sys.executable).parent / f"aloft-{service}"), "--config", str(path), "check-config"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{service}: {result.stderr}"


def test_pods_run_non_root_read_only_with_probes(rendered: tuple[Case, list[dict[str, Any]]]) -> None:
    case, objects = rendered
    development = case.values_file is not None and case.values_file.name == "values-dev.yaml"
    for where, spec in pod_specs(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] == 65532, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in spec["containers"] + spec.get("initContainers", []):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            # values-dev.yaml alone makes the root writable, so Tilt can sync sources into site-packages.
            assert security["readOnlyRootFilesystem"] is not development, where
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/etc/aloft", "/tmp"} <= mounts, where
            if container in spec["containers"] and where.startswith("Deployment/"):
                assert "/var/lib/aloft" in mounts, where
                scheme = "HTTPS" if "webhook" in where else "HTTP"  # the webhook serves only TLS
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    expected = {"path": "/healthcheck", "port": "http", "scheme": scheme}
                    assert container[probe]["httpGet"] == expected, where


def test_rbac_is_least_privilege(rendered: tuple[Case, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole"):
        if role["metadata"]["name"].startswith(f"{RELEASE}-admin-clusterresource-"):
            # The cluster resource controller creates and patches what its templates name; it never deletes.
            for rule in role["rules"]:
                assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
                assert set(rule["verbs"]) <= {"get", "create", "patch"}, rule
            continue
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"], role["metadata"]["name"]
            assert set(rule["resources"]) <= {
                "pods", "pods/log", "events", "secrets", "mutatingwebhookconfigurations",
            }, role["metadata"]["name"]  # fmt: skip
            if rule["resources"] in (["secrets"], ["mutatingwebhookconfigurations"]):
                # The webhook may create its cert Secret and webhook configuration, and touch only those by name.
                assert rule["verbs"] == ["create"] or rule.get("resourceNames"), rule
    for where, spec in pod_specs(objects):
        needs_api = any(name in where for name in ("propeller", "webhook")) and where.startswith("Deployment/")
        # The cluster resource CronJob uses its token only for this cluster (no kubeconfigs: rbac.create).
        bound = {s["name"] for b in of_kind(objects, "ClusterRoleBinding") for s in b["subjects"]}
        needs_api |= where == f"CronJob/{RELEASE}-admin-clusterresource" and f"{RELEASE}-admin-clusterresource" in bound
        assert spec["automountServiceAccountToken"] is needs_api, where


def test_every_stateless_service_can_autoscale_and_has_a_disruption_budget() -> None:
    values = {name: {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 5}} for name in
              ("admin", "datacatalog", "console", "webhook")}  # fmt: skip
    objects = render(UMBRELLA, values)
    scaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in of_kind(objects, "HorizontalPodAutoscaler")}
    assert scaled == {f"{RELEASE}-{name}" for name in values}
    for name in values:  # the HPA owns the replica count
        assert "replicas" not in named(objects, "Deployment", f"{RELEASE}-{name}")["spec"]
    budgets = {pdb["metadata"]["name"] for pdb in of_kind(objects, "PodDisruptionBudget")}
    assert budgets == {f"{RELEASE}-{name}" for name in SERVICE_CHARTS}


def test_network_policies_admit_only_aloft_pods_to_internal_services() -> None:
    objects = render(UMBRELLA)
    policies = {policy["metadata"]["name"]: policy["spec"] for policy in of_kind(objects, "NetworkPolicy")}
    assert set(policies) == {f"{RELEASE}-{name}" for name in SERVICE_CHARTS}
    internal = policies[f"{RELEASE}-datacatalog"]["ingress"][0]
    assert internal["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "aloft", "app.kubernetes.io/instance": RELEASE}}}
    ]
    assert {port["port"] for port in internal["ports"]} == {8090, 8091}
    public = policies[f"{RELEASE}-admin"]["ingress"][0]
    assert "from" not in public  # admin is the public API


def test_single_cluster_release_wires_services_to_each_other() -> None:
    objects = render(UMBRELLA)
    assert {d["metadata"]["name"] for d in of_kind(objects, "Deployment")} == {
        f"{RELEASE}-{name}" for name in SERVICE_CHARTS
    }
    admin = service_config(objects, "admin")
    assert admin["admin"]["dataPlanes"] == [{"name": "default", "endpoint": f"{RELEASE}-propeller:8092"}]
    propeller = service_config(objects, "propeller")["propeller"]
    assert propeller["adminEndpoint"] == f"{RELEASE}-admin:8089"
    assert propeller["datacatalogEndpoint"] == f"{RELEASE}-datacatalog:8090"
    assert service_config(objects, "console")["console"]["adminEndpoint"] == f"http://{RELEASE}-admin:8088"
    assert service_config(objects, "scheduler")["scheduler"]["adminEndpoint"] == f"{RELEASE}-admin:8089"
    # global.config reaches every service, so they share one database and blob store
    for service in ("admin", "datacatalog", "propeller"):
        config = service_config(objects, service)
        assert config["database"]["postgres"]["host"] == "postgres"
        assert config["storage"]["type"] == "s3"


def test_multi_cluster_is_one_control_plane_and_one_data_plane_release_per_cluster() -> None:
    values = yaml.safe_load((CHARTS / UMBRELLA / "values-control-plane.yaml").read_text())
    control = render(UMBRELLA, values)
    assert {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in of_kind(control, "Deployment")} == {
        "admin", "datacatalog", "console", "scheduler",
    }  # fmt: skip
    assert service_config(control, "admin")["admin"]["dataPlanes"] == values["admin"]["dataPlanes"]

    for cluster in ("cluster-a", "cluster-b"):
        data_values = yaml.safe_load((CHARTS / UMBRELLA / "values-data-plane.yaml").read_text())
        data_values["propeller"]["clusterId"] = cluster
        data = render(UMBRELLA, data_values)
        assert {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in of_kind(data, "Deployment")} == {
            "propeller", "webhook",
        }  # fmt: skip
        propeller = service_config(data, "propeller")["propeller"]
        assert propeller["cluster-id"] == cluster
        assert propeller["adminEndpoint"] == "admin.control.example.com:8089"
        # the data plane's name is one admin hands executions to
        assert cluster in {plane["name"] for plane in values["admin"]["dataPlanes"]}
        # task pods only in the listed namespaces: a Role in each, no ClusterRole for pods
        roles = of_kind(data, "Role")
        assert {r["metadata"]["namespace"] for r in roles if r["metadata"]["name"].endswith("-tasks")} == set(
            data_values["propeller"]["taskNamespaces"]
        )
        assert not [r for r in of_kind(data, "ClusterRole") if "propeller" in r["metadata"]["name"]]


def test_propeller_manager_mode_runs_the_manager_with_flytes_shard_keys() -> None:
    objects = render("propeller", yaml.safe_load((CHARTS / "propeller/ci/manager-values.yaml").read_text()))
    deployment = named(objects, "Deployment", f"{RELEASE}-propeller")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == ["manager"]
    manager = service_config(objects, "propeller")["manager"]
    assert manager["shard"]["type"] == "Project"
    assert manager["shard"]["per-shard-mapping"][-1] == {"ids": ["*"]}
    assert "enabled" not in manager
    # default: one engine, no manager section
    default = render("propeller")
    assert named(default, "Deployment", f"{RELEASE}-propeller")["spec"]["template"]["spec"]["containers"][0][
        "args"
    ] == ["serve"]
    assert "manager" not in service_config(default, "propeller")


def test_webhook_bootstraps_its_certificate_and_registers_itself_with_least_privilege() -> None:
    objects = render("webhook")
    config = service_config(objects, "webhook")["webhook"]
    service = named(objects, "Service", f"{RELEASE}-webhook")
    # the MutatingWebhookConfiguration is named after the Service it points at, on port 443 → the listen port
    assert config["serviceName"] == service["metadata"]["name"]
    assert (
        service["spec"]["ports"] == [{"name": "http", "port": 443, "targetPort": "http", "protocol": "TCP"}]
        and config["servicePort"] == 443
    )
    spec = named(objects, "Deployment", f"{RELEASE}-webhook")["spec"]["template"]["spec"]
    assert [(c["name"], c["args"]) for c in spec["initContainers"]] == [("init-certs", ["init-certs"])]
    certs = next(v for v in spec["volumes"] if v["name"] == "certs")
    assert certs["secret"] == {"secretName": config["secretName"], "optional": True}
    rules = [rule for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole") for rule in role["rules"]]
    named_rules = {rule["resources"][0]: rule for rule in rules if rule.get("resourceNames")}
    assert named_rules["secrets"]["resourceNames"] == [config["secretName"]]
    assert named_rules["mutatingwebhookconfigurations"]["resourceNames"] == [config["serviceName"]]


def test_migrations_run_as_a_hook_before_install_and_upgrade() -> None:
    objects = render(UMBRELLA)
    jobs = {job["metadata"]["name"]: job for job in of_kind(objects, "Job")}
    assert set(jobs) == {f"{RELEASE}-{name}-migrate" for name in ("admin", "datacatalog", "propeller")}
    for name, job in jobs.items():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["migrate"]
        # its config is a hook too (created first), since hooks run before the release's own ConfigMap exists
        config_name = next(
            v["configMap"]["name"] for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"
        )
        hook_config = named(objects, "ConfigMap", config_name)
        assert int(hook_config["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
            job["metadata"]["annotations"]["helm.sh/hook-weight"]
        )
        service = name.removeprefix(f"{RELEASE}-").removesuffix("-migrate")
        assert yaml.safe_load(hook_config["data"]["aloft.yaml"]) == service_config(objects, service)


def test_database_password_comes_from_a_secret() -> None:
    objects = render(UMBRELLA, {"global": {"databasePasswordSecret": {"name": "db", "key": "pw"}}})
    config = service_config(objects, "admin")
    assert config["database"]["postgres"]["passwordPath"] == "/etc/aloft/secrets/database/password"
    spec = named(objects, "Deployment", f"{RELEASE}-admin")["spec"]["template"]["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "database-password")
    assert volume["secret"] == {"secretName": "db", "items": [{"key": "pw", "path": "password"}]}


@pytest.mark.parametrize(
    ("chart", "values", "complaint"),
    [
        ("admin", {"replicaCount": "two"}, "replicaCount"),
        ("admin", {"ports": {"http": 70000}}, "http"),
        ("admin", {"dataPlanes": [{"name": "a"}]}, "endpoint"),
        ("propeller", {"manager": {"enabled": True, "shard": {"type": "Random"}}}, "type"),
        ("console", {"replicas": 2}, "replicas"),
        (UMBRELLA, {"adminn": {"enabled": True}}, "adminn"),
        (UMBRELLA, {"admin": {"image": {"pullPolicy": "Sometimes"}}}, "pullPolicy"),
    ],
)
def test_values_schema_rejects_bad_values(chart: str, values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(HelmValuesError, match=complaint):
        render(chart, values)


def test_every_chart_has_a_values_schema_that_is_up_to_date() -> None:
    for chart in (*SERVICE_CHARTS, UMBRELLA):
        assert (CHARTS / chart / "values.schema.json").is_file()
    check = subprocess.run([sys.executable, str(REPO / "tools/charts/schemas.py"), "--check"], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()


def test_umbrella_has_values_for_each_plane() -> None:
    names = {path.name for path in example_values(UMBRELLA)}
    assert {"values-control-plane.yaml", "values-data-plane.yaml", "values-single-cluster.yaml"} <= names
