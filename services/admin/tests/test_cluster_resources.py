"""The cluster resource controller against a real admin (SQLite and PostgreSQL) and two data planes' Kubernetes APIs
(aloft_testing.kube, our Kubernetes API double speaking the real REST protocol: no Kubernetes can run here).
Namespaces, quotas and service accounts appear in both clusters with the values the attributes set; a second sync,
in the same process or a new one, changes nothing; a changed attribute patches only what it changes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_domain_attributes_pb2, project_pb2

from aloft_admin.clusterresource import Controller, SyncError, build_controller
from aloft_admin.config import AdminConfig
from aloft_testing.kube import KubeDouble

NAMESPACE = """apiVersion: v1
kind: Namespace
metadata:
  name: {{ namespace }}
  labels:
    flyte.org/project: {{ project }}
    flyte.org/domain: {{ domain }}
"""
QUOTA = """apiVersion: v1
kind: ResourceQuota
metadata:
  name: project-quota
spec:
  hard:
    limits.cpu: "{{ projectQuotaCpu }}"
    limits.memory: {{ projectQuotaMemory }}
"""
SERVICE_ACCOUNT = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: default-flyte
  annotations:
    eks.amazonaws.com/role-arn: {{ defaultIamRole }}
"""


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[tuple[KubeDouble, KubeDouble]]:
    with KubeDouble(tmp_path / "east") as east, KubeDouble(tmp_path / "west") as west:
        yield east, west


def controller_config(admin: Any, tmp_path: Path, clusters: tuple[KubeDouble, KubeDouble]) -> AdminConfig:
    return AdminConfig.model_validate(controller_sections(admin, tmp_path, clusters))


def controller_sections(admin: Any, tmp_path: Path, clusters: tuple[KubeDouble, KubeDouble]) -> dict[str, Any]:
    templates = tmp_path / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "aa_namespace.yaml").write_text(NAMESPACE)
    (templates / "ab_project_resource_quota.yaml").write_text(QUOTA)
    (templates / "ac_service_account.yaml").write_text(SERVICE_ACCOUNT)
    (templates / "README.md").write_text("not a template")
    east, west = clusters
    return {
        "clusters": {
            "clusterConfigs": [
                {"name": "east", "endpoint": "127.0.0.1:1", "kubeConfig": str(east.kubeconfig)},
                {"name": "west", "endpoint": "127.0.0.1:1", "kubeConfig": str(west.kubeconfig)},
                {"name": "off", "endpoint": "127.0.0.1:1", "kubeConfig": "/nonexistent", "enabled": False},
            ]
        },
        "cluster_resources": {
            "templatePath": str(templates),
            "templateData": {"defaultIamRole": {"value": "arn:aws:iam::1:role/flyte"}},
            "customData": {
                "development": {"projectQuotaCpu": {"value": "4"}, "projectQuotaMemory": {"value": "8Gi"}},
                "staging": {"projectQuotaCpu": {"value": "8"}, "projectQuotaMemory": {"value": "16Gi"}},
                "production": {"projectQuotaCpu": {"value": "16"}, "projectQuotaMemory": {"value": "32Gi"}},
            },
            "adminEndpoint": admin.grpc_target,
        },
    }


async def set_attributes(admin: Any, project: str, domain: str, **values: str) -> None:
    attributes = project_domain_attributes_pb2.ProjectDomainAttributes(
        project=project,
        domain=domain,
        matching_attributes=mr.MatchingAttributes(
            cluster_resource_attributes=mr.ClusterResourceAttributes(attributes=values)
        ),
    )
    await admin.admin.UpdateProjectDomainAttributes(
        project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest(attributes=attributes)
    )


def state(cluster: KubeDouble) -> dict[str, Any]:
    """Every namespace's quota, service account annotations and the resourceVersions of all three objects."""
    api = kubernetes.config.new_client_from_config(str(cluster.kubeconfig))
    try:
        core = kubernetes.client.CoreV1Api(api)
        found: dict[str, Any] = {}
        for ns in core.list_namespace(label_selector="flyte.org/project").items:
            name = ns.metadata.name
            quota = core.read_namespaced_resource_quota("project-quota", name)
            account = core.read_namespaced_service_account("default-flyte", name)
            found[name] = {
                "labels": {k: v for k, v in ns.metadata.labels.items() if k.startswith("flyte.org/")},
                "hard": dict(quota.spec.hard),
                "role": account.metadata.annotations["eks.amazonaws.com/role-arn"],
                "versions": (
                    ns.metadata.resource_version,
                    quota.metadata.resource_version,
                    account.metadata.resource_version,
                ),
            }
        return found
    finally:
        api.close()


async def sync(controller: Controller) -> Any:
    return await asyncio.to_thread(controller.sync)


async def test_namespaces_and_templated_resources_in_every_cluster(
    admin_server: Any, tmp_path: Path, clusters: tuple[KubeDouble, KubeDouble]
) -> None:
    await admin_server.admin.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="ml", name="ml"))
    )
    await set_attributes(admin_server, "flytesnacks", "development", projectQuotaCpu="1000", projectQuotaMemory="5Ti")
    config = controller_config(admin_server, tmp_path, clusters)
    controller = await asyncio.to_thread(build_controller, config)

    first = await sync(controller)
    assert (first.created, first.updated, first.errored) == (2 * 6 * 3, 0, 0)  # 2 clusters, 6 namespaces, 3 files
    east, west = state(clusters[0]), state(clusters[1])
    expected_namespaces = {f"{p}-{d}" for p in ("flytesnacks", "ml") for d in ("development", "staging", "production")}
    assert set(east) == set(west) == expected_namespaces
    for found in (east, west):
        assert found["flytesnacks-development"]["hard"] == {"limits.cpu": "1000", "limits.memory": "5Ti"}
        assert found["ml-development"]["hard"] == {"limits.cpu": "4", "limits.memory": "8Gi"}
        assert found["ml-production"]["hard"] == {"limits.cpu": "16", "limits.memory": "32Gi"}
        assert found["ml-staging"]["labels"] == {"flyte.org/project": "ml", "flyte.org/domain": "staging"}
        assert {ns["role"] for ns in found.values()} == {"arn:aws:iam::1:role/flyte"}

    again = await sync(controller)  # same process: every manifest is known to be applied
    assert (again.created, again.updated, again.already_there) == (0, 0, 36)
    restarted = await asyncio.to_thread(build_controller, config)  # a new process: compared with each cluster
    fresh = await sync(restarted)
    assert (fresh.created, fresh.updated, fresh.already_there, fresh.errored) == (0, 0, 36, 0)
    assert state(clusters[0]) == east and state(clusters[1]) == west  # not one write

    await set_attributes(admin_server, "ml", "staging", projectQuotaCpu="64", projectQuotaMemory="16Gi")
    changed = await sync(restarted)
    assert (changed.created, changed.updated) == (0, 2)  # the ml-staging quota, in both clusters
    for cluster, before in zip(clusters, (east, west), strict=True):
        after = state(cluster)
        assert after["ml-staging"]["hard"] == {"limits.cpu": "64", "limits.memory": "16Gi"}
        assert {ns: v for ns, v in after.items() if ns != "ml-staging"} == {
            ns: v for ns, v in before.items() if ns != "ml-staging"
        }


async def test_a_failing_template_is_reported_and_the_rest_applied(
    admin_server: Any, tmp_path: Path, clusters: tuple[KubeDouble, KubeDouble]
) -> None:
    config = controller_config(admin_server, tmp_path, clusters)
    (tmp_path / "templates" / "zz_bad.yaml").write_text("apiVersion: v1\nkind: NoSuchKind\nmetadata: {name: x}\n")
    controller = await asyncio.to_thread(build_controller, config)
    with pytest.raises(SyncError, match=r"zz_bad\.yaml in flytesnacks-development on east"):
        await sync(controller)
    assert set(state(clusters[1])) == {f"flytesnacks-{d}" for d in ("development", "staging", "production")}


async def test_clusterresource_sync_command(
    admin_server: Any, tmp_path: Path, clusters: tuple[KubeDouble, KubeDouble]
) -> None:
    """``aloft-admin clusterresource-sync``: one pass, exit 0; a second run changes nothing."""
    config_file = tmp_path / "aloft.yaml"
    config_file.write_text(yaml.safe_dump(controller_sections(admin_server, tmp_path, clusters)))
    command = [str(Path(sys.executable).parent / "aloft-admin"), "--config", str(config_file), "clusterresource-sync"]
    first = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    before = state(clusters[0])
    assert set(before) == {f"flytesnacks-{d}" for d in ("development", "staging", "production")}
    second = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "0 created, 0 updated, 18 unchanged, 0 failed" in second.stderr + second.stdout
    assert state(clusters[0]) == before
