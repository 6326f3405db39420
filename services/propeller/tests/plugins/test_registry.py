"""Plugin registry: enabled plugins, default-for-task-types, unknown types."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aloft_propeller.config import K8sPluginConfig, PropellerConfig, TaskPluginsConfig, TasksConfig
from aloft_propeller.plugins.base import Phase, PhaseInfo, Plugin, PluginAnswer, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_propeller.plugins.registry import PluginConfigError, UnsupportedTaskType, build_plugin_registry
from aloft_storage import BlobStore


@dataclass
class EchoPlugin:
    """A second plugin, to show routing by type and by default-for-task-types."""

    id: str = "echo"
    task_types: tuple[str, ...] = ("echo", "python-task")

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        return PluginAnswer(PhaseInfo(Phase.SUCCESS))

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        return None

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        return None


def config_with(enabled: list[str], defaults: dict[str, str]) -> PropellerConfig:
    plugins = TaskPluginsConfig.model_validate({"enabled-plugins": enabled, "default-for-task-types": defaults})
    return PropellerConfig(tasks=TasksConfig.model_validate({"task-plugins": plugins.model_dump(by_alias=True)}))


def test_default_config_routes_flytekit_types_to_local_process(blobs: BlobStore) -> None:
    registry = build_plugin_registry(PropellerConfig(), blobs)
    for task_type in ("python-task", "container", "raw-container"):
        plugin = registry.for_task_type(task_type)
        assert isinstance(plugin, LocalProcessPlugin) and isinstance(plugin, Plugin)
    # The embedded Dask and Ray cluster plugins are enabled by default too, for their own task types.
    assert [p.id for p in registry.plugins()] == ["local-process", "dask", "ray"]
    assert registry.for_task_type("dask").id == "dask" and registry.for_task_type("ray").id == "ray"


def test_unknown_task_type_is_a_clear_lookup_error(blobs: BlobStore) -> None:
    registry = build_plugin_registry(PropellerConfig(), blobs)
    with pytest.raises(UnsupportedTaskType, match=r"task type \[spark\].*python-task") as caught:
        registry.for_task_type("spark")
    assert isinstance(caught.value, LookupError) and caught.value.code == "UnsupportedTaskType"


def test_default_for_task_types_overrides_declared_types(blobs: BlobStore) -> None:
    available = {"echo": lambda config, store: EchoPlugin()}
    declared = build_plugin_registry(config_with(["echo", "local-process"], {}), blobs, available)
    assert declared.for_task_type("python-task").id == "echo"  # first enabled plugin declaring the type
    assert declared.for_task_type("echo").id == "echo"
    assert declared.for_task_type("raw-container").id == "local-process"

    routed = build_plugin_registry(
        config_with(["echo", "local-process"], {"python-task": "local-process", "sql": "echo"}), blobs, available
    )
    assert routed.for_task_type("python-task").id == "local-process"
    assert routed.for_task_type("sql").id == "echo"


def test_disabled_plugins_are_not_built(blobs: BlobStore) -> None:
    available = {"echo": lambda config, store: EchoPlugin()}
    registry = build_plugin_registry(config_with(["echo"], {}), blobs, available)
    assert [p.id for p in registry.plugins()] == ["echo"]
    with pytest.raises(UnsupportedTaskType):
        registry.for_task_type("raw-container")


def test_config_errors_name_the_key(blobs: BlobStore) -> None:
    with pytest.raises(PluginConfigError, match=r"enabled-plugins names unknown plugin \[spark\]"):
        build_plugin_registry(config_with(["spark"], {}), blobs)
    with pytest.raises(PluginConfigError, match=r"default-for-task-types\[python-task\] names plugin \[echo\]"):
        build_plugin_registry(config_with(["local-process"], {"python-task": "echo"}), blobs)


def test_k8s_plugin_without_a_cluster_names_the_key(blobs: BlobStore, tmp_path: Path) -> None:
    config = config_with(["k8s-pod"], {})
    missing = config.model_copy(
        update={
            "plugins": config.plugins.model_copy(
                update={"k8s": K8sPluginConfig.model_validate({"kube-config": str(tmp_path / "none")})}
            )
        }
    )
    with pytest.raises(PluginConfigError, match=r"plugins.k8s.kube-config"):
        build_plugin_registry(missing, blobs)
