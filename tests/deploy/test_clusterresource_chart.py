"""The admin chart's cluster resource controller (Flyte's clusterresourcesync): a CronJob running
`aloft-admin clusterresource-sync` with the chart's templates ConfigMap, kubeconfig Secret and RBAC wired the way the
controller reads them — and the chart's default templates (Flyte's namespace + project quota), run by the real
controller with the rendered config, create what they should in a Kubernetes API double (aloft_testing.kube: no
Kubernetes can run here), a second pass changing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes
import yaml
from flyteidl.admin import project_pb2

from aloft_admin.clusterresource import Cluster, Controller
from aloft_admin.config import AdminConfig
from aloft_testing.kube import KubeDouble

from .charts import CHARTS, NAMESPACE, RELEASE, named, of_kind, render, service_config

NAME = f"{RELEASE}-admin-clusterresource"


class Projects:
    """Admin's project list as AdminServiceData returns it (the controller's reads over gRPC are covered by
    services/admin/tests/test_cluster_resources.py against a real admin)."""

    def projects(self) -> list[project_pb2.Project]:
        domains = [project_pb2.Domain(id=d, name=d) for d in ("development", "staging", "production")]
        return [project_pb2.Project(id="flytesnacks", name="flytesnacks", domains=domains)]

    def cluster_resource_attributes(self, project: str, domain: str) -> dict[str, str]:
        return {"projectQuotaCpu": "7"} if domain == "staging" else {}


def container_of(cronjob: dict[str, Any]) -> dict[str, Any]:
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    container: dict[str, Any] = spec["containers"][0]
    return container


def test_disabled_by_default() -> None:
    objects = render("admin")
    assert not of_kind(objects, "CronJob")
    assert "cluster_resources" not in service_config(objects, "admin")


def test_cronjob_mounts_templates_and_kubeconfigs_where_the_config_points() -> None:
    values = yaml.safe_load((CHARTS / "admin/ci/clusterresource-values.yaml").read_text())
    objects = render("admin", values)
    cronjob = named(objects, "CronJob", NAME)
    assert cronjob["spec"]["schedule"] == "*/2 * * * *" and cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    # Not selected by admin's Service, PDB or HPA: its own name label.
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "admin-clusterresource"
    container = container_of(cronjob)
    assert container["args"] == ["clusterresource-sync"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}

    config = service_config(objects, "admin")
    resources = config["cluster_resources"]
    assert resources["templatePath"] == mounts["templates"]
    assert resources["adminEndpoint"] == f"{RELEASE}-admin:8089"  # admin's Service
    assert resources["templateData"] == values["clusterResources"]["templateData"]
    templates = named(objects, "ConfigMap", f"{NAME}-templates")
    assert volumes["templates"]["configMap"]["name"] == templates["metadata"]["name"]
    assert sorted(templates["data"]) == ["aa_namespace.yaml", "ab_default_service_account.yaml"]
    # Each data plane's kubeconfig is a file of the Secret, mounted where dataPlanes[].kubeConfig points.
    assert volumes["cluster-credentials"]["secret"]["secretName"] == "aloft-cluster-credentials"
    for plane in config["admin"]["dataPlanes"]:
        assert Path(plane["kubeConfig"]).parent == Path(mounts["cluster-credentials"])
    # Kubeconfigs only: no ClusterRole, no token.
    assert not of_kind(objects, "ClusterRole")
    assert pod["spec"]["automountServiceAccountToken"] is False


def test_in_cluster_rbac_covers_the_default_templates() -> None:
    objects = render("admin", {"clusterResources": {"enabled": True}})
    binding = named(objects, "ClusterRoleBinding", f"{NAME}-{NAMESPACE}")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    role = named(objects, "ClusterRole", binding["roleRef"]["name"])
    allowed = {resource for rule in role["rules"] for resource in rule["resources"]}
    templates = named(objects, "ConfigMap", f"{NAME}-templates")["data"]
    kinds = {yaml.safe_load(t.replace("{{", "").replace("}}", ""))["kind"] for t in templates.values()}
    assert {kind.lower() + "s" for kind in kinds} <= allowed
    assert named(objects, "CronJob", NAME)["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "automountServiceAccountToken"
    ]


def test_default_templates_sync_into_the_api_double_with_flytes_quotas(tmp_path: Path) -> None:
    objects = render("admin", {"clusterResources": {"enabled": True}})
    templates = tmp_path / "templates"
    templates.mkdir()
    for name, text in named(objects, "ConfigMap", f"{NAME}-templates")["data"].items():
        (templates / name).write_text(text)
    sections = service_config(objects, "admin")
    sections["cluster_resources"]["templatePath"] = str(templates)
    config = AdminConfig.model_validate(sections)

    with KubeDouble(tmp_path / "kube") as kube:
        api = kubernetes.config.new_client_from_config(str(kube.kubeconfig))
        controller = Controller(config, Projects(), [Cluster("in-cluster", api)])
        try:
            first = controller.sync()
            assert (first.created, first.errored) == (6, 0)  # 3 namespaces + 3 quotas
            quotas = {
                ns: kube.get("resourcequotas", ns, "project-quota")["spec"]["hard"]  # type: ignore[index]
                for ns in ("flytesnacks-development", "flytesnacks-staging", "flytesnacks-production")
            }
            assert quotas == {
                "flytesnacks-development": {"limits.cpu": "4", "limits.memory": "3000Mi"},
                "flytesnacks-staging": {"limits.cpu": "7", "limits.memory": "3000Mi"},  # the attribute wins
                "flytesnacks-production": {"limits.cpu": "5", "limits.memory": "4000Mi"},
            }
            # A new process (no checksum cache) finds everything in place.
            again = Controller(config, Projects(), controller.clusters).sync()
            assert (again.created, again.updated, again.already_there) == (0, 0, 6)
        finally:
            api.close()
