"""Plugins by task type, as flytepropeller's task handler resolves them.

A task type is served by the plugin configured in ``tasks.task-plugins.default-for-task-types`` when present, else by
the one enabled plugin that declares the type. Only plugins listed in ``enabled-plugins`` are built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins.base import Plugin
from aloft_propeller.plugins.resources import register_plugin_quotas
from aloft_propeller.resourcemanager.base import ResourceManager
from aloft_storage import BlobStore


class PluginConfigError(ValueError):
    """The plugin configuration names a plugin that does not exist or is not enabled."""


class UnsupportedTaskType(LookupError):
    """No enabled plugin handles this task type: the engine fails the node permanently with ``code``."""

    code = "UnsupportedTaskType"

    def __init__(self, task_type: str, known: list[str]) -> None:
        handled = ", ".join(sorted(known)) or "none"
        super().__init__(f"no enabled task plugin handles task type [{task_type}]; handled types: {handled}")
        self.task_type = task_type


PluginFactory = Callable[[PropellerConfig, BlobStore], Plugin]


def _local_process_factory(config: PropellerConfig, blobs: BlobStore) -> Plugin:
    from aloft_propeller.plugins.local_process import LocalProcessPlugin

    return LocalProcessPlugin(config, blobs)


def _k8s_pod_factory(config: PropellerConfig, blobs: BlobStore) -> Plugin:
    from kubernetes.config import ConfigException

    from aloft_propeller.plugins.k8s import K8sPodPlugin

    try:
        return K8sPodPlugin(config, blobs)
    except (ConfigException, OSError) as exc:
        where = config.plugins.k8s.kube_config or "in-cluster config / the default kubeconfig"
        raise PluginConfigError(f"plugins.k8s.kube-config: cannot reach Kubernetes with {where}: {exc}") from exc


def _connector_factory(plugin_id: str) -> PluginFactory:
    def build(config: PropellerConfig, blobs: BlobStore) -> Plugin:
        from aloft_propeller.plugins.connector import ConnectorPlugin

        return ConnectorPlugin(config, blobs, plugin_id)

    return build


def _k8s_job_factory(task_type: str) -> PluginFactory:
    def build(config: PropellerConfig, blobs: BlobStore) -> Plugin:
        from kubernetes.config import ConfigException

        from aloft_propeller.plugins.k8s.cluster_jobs import DASK_JOB, RAY_JOB
        from aloft_propeller.plugins.k8s.job_plugin import K8sClusterJobPlugin

        try:
            return K8sClusterJobPlugin(config, blobs, RAY_JOB if task_type == "ray" else DASK_JOB)
        except (ConfigException, OSError) as exc:
            where = config.plugins.k8s.kube_config or "in-cluster config / the default kubeconfig"
            raise PluginConfigError(f"plugins.k8s.kube-config: cannot reach Kubernetes with {where}: {exc}") from exc

    return build


def _dask_factory(config: PropellerConfig, blobs: BlobStore) -> Plugin:
    from aloft_propeller.plugins.clusters import dask_plugin

    return dask_plugin(config, blobs)


def _ray_factory(config: PropellerConfig, blobs: BlobStore) -> Plugin:
    from aloft_propeller.plugins.clusters import ray_plugin

    return ray_plugin(config, blobs)


# Plugins this build can construct, by id. New plugins register here.
AVAILABLE_PLUGINS: dict[str, PluginFactory] = {
    "local-process": _local_process_factory,
    "k8s-pod": _k8s_pod_factory,
    "connector-service": _connector_factory("connector-service"),
    "agent-service": _connector_factory("agent-service"),  # Flyte's older name of the connector plugin
    "dask": _dask_factory,
    "ray": _ray_factory,
    "k8s-ray": _k8s_job_factory("ray"),  # KubeRay RayJob
    "k8s-dask": _k8s_job_factory("dask"),  # Dask operator DaskJob
}


class PluginRegistry:
    def __init__(self, plugins: list[Plugin], defaults: Mapping[str, str]) -> None:
        self._by_id = {plugin.id: plugin for plugin in plugins}
        self._by_type: dict[str, Plugin] = {}
        for plugin in plugins:
            for task_type in plugin.task_types:
                self._by_type.setdefault(task_type, plugin)
        for task_type, plugin_id in defaults.items():
            if plugin_id not in self._by_id:
                raise PluginConfigError(
                    f"tasks.task-plugins.default-for-task-types[{task_type}] names plugin [{plugin_id}], "
                    f"which is not enabled (enabled: {', '.join(sorted(self._by_id)) or 'none'})"
                )
            self._by_type[task_type] = self._by_id[plugin_id]

    def for_task_type(self, task_type: str) -> Plugin:
        plugin = self._by_type.get(task_type)
        if plugin is not None:
            return plugin
        # Plugins whose task types change while propeller runs (connectors report theirs), as Flyte's task handler
        # asks the connector service after the configured plugins.
        for candidate in self._by_id.values():
            serves = getattr(candidate, "serves", None)
            if callable(serves) and serves(task_type):
                return candidate
        raise UnsupportedTaskType(task_type, list(self._by_type))

    def plugins(self) -> list[Plugin]:
        return list(self._by_id.values())

    def task_types(self) -> list[str]:
        return sorted(self._by_type)


def build_plugin_registry(
    config: PropellerConfig,
    blobs: BlobStore,
    available: Mapping[str, PluginFactory] | None = None,
    *,
    resources: ResourceManager | None = None,
) -> PluginRegistry:
    """Build the enabled plugins and register their resource pools with ``resources`` (the ResourceManager);
    ``available`` lets tests add fakes beside the built-in ones."""
    factories = dict(AVAILABLE_PLUGINS)
    factories.update(available or {})
    plugins: list[Plugin] = []
    for plugin_id in config.tasks.task_plugins.enabled_plugins:
        factory = factories.get(plugin_id)
        if factory is None:
            raise PluginConfigError(
                f"tasks.task-plugins.enabled-plugins names unknown plugin [{plugin_id}]; "
                f"available: {', '.join(sorted(factories))}"
            )
        plugin = factory(config, blobs)
        if resources is not None:
            register_plugin_quotas(resources, plugin.id, plugin)
        plugins.append(plugin)
    return PluginRegistry(plugins, config.tasks.task_plugins.default_for_task_types)
