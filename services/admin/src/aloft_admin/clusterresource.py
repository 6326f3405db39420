"""The cluster resource controller (``aloft-admin clusterresource-run`` / ``clusterresource-sync``, flyteadmin's
``clusterresource run`` / ``sync``): for every project-domain, the namespace named by ``namespace_mapping.template``
and the resources of the ``cluster_resources`` templates, applied to the Kubernetes API of every enabled data plane.

Values: ``{{ namespace }}``, ``{{ project }}``, ``{{ domain }}``, ``templateData``, then ``customData`` of the domain
overridden by the project-domain's CLUSTER_RESOURCE attributes (read through AdminService, as flyteadmin's standalone
controller does). Applying is idempotent: a missing object is created; an existing one is patched (JSON merge patch)
only when a value the template sets differs; a manifest already applied unchanged by this process is skipped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
import yaml
from aloft_auth.client import blocking_outgoing_interceptors
from aloft_auth.config import MutualTls
from aloft_auth.mtls import blocking_channel
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_domain_attributes_pb2, project_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_admin.config import AdminConfig, DataPlaneConfig, DataSource

log = logging.getLogger(__name__)

RESERVED = ("namespace", "project", "domain")


class SyncError(RuntimeError):
    """A sync that could not apply everything (each failure is logged; the rest was applied)."""


@dataclass
class SyncStats:
    created: int = 0
    updated: int = 0
    already_there: int = 0
    errored: int = 0

    def add(self, other: SyncStats) -> None:
        self.created += other.created
        self.updated += other.updated
        self.already_there += other.already_there
        self.errored += other.errored


class AdminData(Protocol):
    def projects(self) -> list[project_pb2.Project]: ...

    def cluster_resource_attributes(self, project: str, domain: str) -> dict[str, str]: ...


class AdminServiceData:
    """Projects and CLUSTER_RESOURCE attributes from admin's gRPC API (flyteadmin's AdminServiceDataProvider)."""

    def __init__(
        self,
        endpoint: str,
        interceptors: Sequence[grpc.UnaryUnaryClientInterceptor] = (),
        mutual_tls: MutualTls | None = None,
    ) -> None:
        # With auth on, ``interceptors`` send admin's internal client-credentials token on every call.
        self._channel = blocking_channel(endpoint, mutual_tls or MutualTls())
        self._admin = admin_pb2_grpc.AdminServiceStub(grpc.intercept_channel(self._channel, *interceptors))

    def projects(self) -> list[project_pb2.Project]:
        found: list[project_pb2.Project] = []
        token = ""
        while True:
            page = self._admin.ListProjects(project_pb2.ProjectListRequest(limit=100, token=token), timeout=30)
            found.extend(p for p in page.projects if p.state == project_pb2.Project.ACTIVE)
            token = page.token
            if not token:
                return found

    def cluster_resource_attributes(self, project: str, domain: str) -> dict[str, str]:
        request = project_domain_attributes_pb2.ProjectDomainAttributesGetRequest(
            project=project, domain=domain, resource_type=mr.CLUSTER_RESOURCE
        )
        try:
            got = self._admin.GetProjectDomainAttributes(request, timeout=30)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
                return {}
            raise
        return dict(got.attributes.matching_attributes.cluster_resource_attributes.attributes)

    def close(self) -> None:
        self._channel.close()


def resolve_value(name: str, source: DataSource) -> str:
    """A ``templateData`` / ``customData`` entry's value (Flyte: value, else valueFrom.env, else valueFrom.filePath)."""
    if name in RESERVED:
        raise ValueError(f"cluster_resources: {name!r} is set by the controller and cannot be a template value")
    if source.value:
        value = source.value
    elif source.valueFrom.env:
        value = os.environ.get(source.valueFrom.env, "")
    elif source.valueFrom.filePath:
        value = Path(source.valueFrom.filePath).read_text()
    else:
        raise ValueError(f"cluster_resources: {name!r} has no value or valueFrom")
    if not value:
        raise ValueError(f"cluster_resources: {name!r} resolved to an empty value")
    return value


def render(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"{{{{ {key} }}}}", value)
    return template


def namespace_of(template: str, project: str, domain: str) -> str:
    return render(template, {"project": project, "domain": domain})


def _contains(current: Any, desired: Any) -> bool:
    """Whether every value ``desired`` sets is already in ``current`` (what the server adds is ignored)."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(k in current and _contains(current[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(current) == len(desired)
            and all(_contains(c, d) for c, d in zip(current, desired, strict=True))
        )
    return bool(current == desired or str(current) == str(desired))


class Cluster:
    """One data plane's Kubernetes API (the official client's DynamicClient, so any kind a template names works)."""

    def __init__(self, name: str, api: Any) -> None:
        from kubernetes.dynamic import DynamicClient

        self.name = name
        self._api = api
        self._dynamic = DynamicClient(api)

    def apply(self, manifest: dict[str, Any], namespace: str) -> str:
        """Create or patch one object; returns ``created``, ``updated`` or ``unchanged``."""
        from kubernetes.dynamic.exceptions import ConflictError

        resource = self._dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        scope = {"namespace": namespace} if resource.namespaced else {}
        if resource.namespaced:
            manifest.setdefault("metadata", {})["namespace"] = namespace
        try:
            resource.create(body=manifest, **scope)
            return "created"
        except ConflictError:
            pass
        name = manifest["metadata"]["name"]
        current = resource.get(name=name, **scope).to_dict()
        if _contains(current, manifest):
            return "unchanged"
        resource.patch(body=manifest, name=name, content_type="application/merge-patch+json", **scope)
        return "updated"

    def close(self) -> None:
        self._api.close()


def clusters_of(config: AdminConfig) -> list[Cluster]:
    """Every enabled data plane with a ``kubeConfig``; none configured: the in-cluster (else default) kubeconfig."""
    from kubernetes import client
    from kubernetes import config as kube_config

    planes: list[DataPlaneConfig] = [p for p in config.data_planes() if p.enabled and p.kubeConfig]
    if planes:
        return [
            Cluster(p.name, kube_config.new_client_from_config(p.kubeConfig, context=p.kubeContext or None))
            for p in planes
        ]
    try:
        kube_config.load_incluster_config()
    except kube_config.ConfigException:
        kube_config.load_kube_config()
    return [Cluster("in-cluster", client.ApiClient())]


@dataclass
class Controller:
    config: AdminConfig
    admin: AdminData
    clusters: list[Cluster]
    # namespace -> template file -> checksum of the manifest last applied to every cluster (flyteadmin's cache)
    applied: dict[str, dict[str, str]] = field(default_factory=dict)

    def _templates(self) -> Iterator[tuple[str, str]]:
        directory = Path(self.config.cluster_resources.templatePath)
        if not directory.is_dir():
            raise SyncError(f"cluster_resources.templatePath {str(directory)!r} is not a directory")
        for path in sorted(directory.iterdir()):
            if path.suffix == ".yaml":
                yield path.name, path.read_text()

    def sync(self) -> SyncStats:
        """One pass over every project-domain and template; raises SyncError after the pass if anything failed."""
        resources = self.config.cluster_resources
        values = {k: resolve_value(k, v) for k, v in resources.templateData.items()}
        domain_values = {
            domain: {k: resolve_value(k, v) for k, v in data.items()} for domain, data in resources.customData.items()
        }
        templates = list(self._templates())
        stats, failures = SyncStats(), list[str]()
        for project in self.admin.projects():
            for domain in project.domains:
                namespace = namespace_of(self.config.namespace_mapping.template, project.id, domain.name or domain.id)
                custom = {**domain_values.get(domain.id, {})}
                custom.update(self.admin.cluster_resource_attributes(project.id, domain.id))
                fixed = {**values, "namespace": namespace, "project": project.id, "domain": domain.id}
                for file_name, template in templates:
                    manifest = render(render(template, custom), fixed)
                    stats.add(self._apply_everywhere(namespace, file_name, manifest, failures))
        log.info(
            "cluster resources: %d created, %d updated, %d unchanged, %d failed",
            stats.created, stats.updated, stats.already_there, stats.errored,
        )  # fmt: skip
        if failures:
            raise SyncError("; ".join(failures))
        return stats

    def _apply_everywhere(self, namespace: str, file_name: str, manifest: str, failures: list[str]) -> SyncStats:
        stats = SyncStats()
        checksum = hashlib.md5(manifest.encode(), usedforsecurity=False).hexdigest()
        if self.applied.get(namespace, {}).get(file_name) == checksum:
            stats.already_there += len(self.clusters)
            return stats
        applied_everywhere = True
        for cluster in self.clusters:
            try:
                outcome = cluster.apply(yaml.safe_load(manifest), namespace)
            except Exception as exc:  # noqa: BLE001 - one failure must not stop the other namespaces and clusters
                applied_everywhere = False
                stats.errored += 1
                failures.append(f"{file_name} in {namespace} on {cluster.name}: {exc}")
                log.warning("cluster resources: %s in %s on %s failed: %s", file_name, namespace, cluster.name, exc)
                continue
            if outcome == "created":
                stats.created += 1
            elif outcome == "updated":
                stats.updated += 1
            else:
                stats.already_there += 1
        if applied_everywhere:
            self.applied.setdefault(namespace, {})[file_name] = checksum
        return stats

    def run(self, stop_after: int | None = None) -> None:
        """Sync every ``refreshInterval`` until interrupted (a failed sync is logged and retried next time)."""
        passes = 0
        while stop_after is None or passes < stop_after:
            try:
                self.sync()
            except Exception:
                log.exception("cluster resource sync failed")
            passes += 1
            time.sleep(self.config.cluster_resources.refreshInterval.total_seconds())


def build_controller(config: AdminConfig) -> Controller:
    endpoint = config.cluster_resources.adminEndpoint or f"127.0.0.1:{config.admin.grpcPort}"
    return Controller(
        config,
        AdminServiceData(endpoint, blocking_outgoing_interceptors(config.auth), config.auth.mutualTls),
        clusters_of(config),
    )
