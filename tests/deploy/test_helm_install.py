"""`helm install` of every chart (default values and each example values file) into the Kubernetes API double of
aloft-testing — a double, not a cluster: it speaks the real REST protocol and validates what it is sent against the
Kubernetes schemas, but runs no controllers and no images.

Helm here is Helm's own install action (helm-sdkpy, in .venv-helm: it needs Python >= 3.12; `make setup` creates it),
driven by tools/charts/install.py. What that leaves out, and how the test stands in:
- release storage: HELM_DRIVER=memory (Helm writes its release Secret as protobuf, which the double does not speak);
- the namespace is created beforehand (Helm's --create-namespace path asks for the OpenAPI document it lacks);
- hooks (the migrations Job and its ConfigMap) are switched off (migrations.enabled=false): Helm validates hook
  objects against the server's OpenAPI document whatever its options say, and the double serves none (it has no
  Job controller either). test_charts.py checks the hooks as rendered;
- pods of Deployments are never created (no controller), so nothing runs the services: the image smoke test does.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aloft_testing.kube import KubeDouble

from .charts import CHARTS, NAMESPACE, RELEASE, REPO, SERVICE_CHARTS, UMBRELLA, Case, all_cases, render

HELM_PYTHON = REPO / ".venv-helm/bin/python"
CASES = all_cases()
# The API group of each kind the charts create, and its plural (the double's REST paths).
PLURALS = {
    "ConfigMap": ("", "configmaps"), "Service": ("", "services"), "ServiceAccount": ("", "serviceaccounts"),
    "Deployment": ("apps", "deployments"), "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
    "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    "Role": ("rbac.authorization.k8s.io", "roles"), "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
    "ClusterRole": ("rbac.authorization.k8s.io", "clusterroles"),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io", "clusterrolebindings"),
    "ServiceMonitor": ("monitoring.coreos.com", "servicemonitors"),
}  # fmt: skip


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeDouble]:
    assert HELM_PYTHON.exists(), "the chart tooling venv is missing: run `make setup` (it creates .venv-helm)"
    with KubeDouble(tmp_path / "kube") as double:
        double.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        yield double


def without_hooks(case: Case) -> dict[str, Any]:
    """The case's values with every migrations hook off (see the module docstring)."""
    values = copy.deepcopy(case.values() or {})
    if case.chart == UMBRELLA:
        for chart in SERVICE_CHARTS:
            values.setdefault(chart, {})["migrations"] = {"enabled": False}
    else:
        values["migrations"] = {"enabled": False}
    return values


def helm_install(kube: KubeDouble, chart: str, values_file: Path) -> subprocess.CompletedProcess[str]:
    command = [str(HELM_PYTHON), str(REPO / "tools/charts/install.py"), "--kubeconfig", str(kube.kubeconfig),
               "--namespace", NAMESPACE, RELEASE, str(CHARTS / chart), str(values_file)]  # fmt: skip
    env = {**os.environ, "HELM_DRIVER": "memory"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_helm_installs_every_object_into_the_api_double(kube: KubeDouble, case: Case, tmp_path: Path) -> None:
    values = without_hooks(case)
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    expected = render(case.chart, values)
    assert not [o for o in expected if "helm.sh/hook" in o["metadata"].get("annotations", {})]
    # Task namespaces (propeller.taskNamespaces) exist before the release, as an operator (or Flyte's cluster
    # resource sync) makes them; the release's own namespace exists already.
    for namespace in {o["metadata"].get("namespace") for o in expected} - {None, NAMESPACE}:
        kube.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    result = helm_install(kube, case.chart, values_file)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["info"]["status"] == "deployed"

    for obj in expected:
        group, plural = PLURALS[obj["kind"]]
        cluster_scoped = obj["kind"] in ("ClusterRole", "ClusterRoleBinding")
        namespace = "" if cluster_scoped else obj["metadata"]["namespace"]
        stored = kube.get(plural, namespace, obj["metadata"]["name"], group=group)
        assert stored is not None, f"{obj['kind']}/{obj['metadata']['name']} was not created"
        assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert stored["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
