"""How plugins take part in the ResourceManager (Flyte's ResourceRegistrar + the per-attempt proxy).

A plugin that throttles declares its pools with ``resource_quotas()``; ``build_plugin_registry`` registers each one
once, at start-up, as ``<plugin id>:<resource>``. Per attempt the task handler hands the plugin a
``TaskResourceManager`` (``ctx.resources``) namespaced the same way, so a plugin only ever names its own resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from aloft_propeller.resourcemanager.base import ExecutionScope, ResourceManager, TaskResourceManager


@runtime_checkable
class DeclaresResourceQuotas(Protocol):
    def resource_quotas(self) -> Mapping[str, int]:
        """Resource name → pool size; an empty mapping when the plugin is configured not to throttle."""
        ...


def pool_name(plugin_id: str, resource: str) -> str:
    return f"{plugin_id}:{resource}"


def register_plugin_quotas(manager: ResourceManager, plugin_id: str, plugin: object) -> None:
    if isinstance(plugin, DeclaresResourceQuotas):
        for resource, quota in plugin.resource_quotas().items():
            manager.register_quota(pool_name(plugin_id, resource), quota)


def attempt_resources(
    manager: ResourceManager | None, plugin_id: str, project: str, domain: str, execution_name: str
) -> TaskResourceManager | None:
    """The view of ``manager`` one attempt of ``plugin_id`` gets (None without a manager)."""
    if manager is None:
        return None
    return TaskResourceManager(manager, ExecutionScope(project, domain, execution_name), plugin_id)
