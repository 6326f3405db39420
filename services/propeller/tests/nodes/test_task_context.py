"""The task context a task node hands its plugin: parts made once per (template, config) stay per-context values."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import identifier_pb2, tasks_pb2

from aloft_propeller.nodes.base import InputsBlob
from aloft_propeller.nodes.task.handler import TaskNodeHandler
from aloft_propeller.plugins.base import Resources
from aloft_propeller.state import NodeState
from aloft_propeller.store.base import ExecutionKey


def _template(cpu: str) -> tasks_pb2.TaskTemplate:
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", domain="d", name="t", version="1"),
        type="container",
    )
    template.container.resources.requests.add(name=tasks_pb2.Resources.CPU, value=cpu)
    return template


def _request(env: str) -> dataplane_pb2.CreateExecutionRequest:
    request = dataplane_pb2.CreateExecutionRequest()
    request.id.project, request.id.domain, request.id.name = "p", "d", "e"
    request.config.envs["WHO"] = env
    request.config.labels["team"] = "a"
    request.config.task_resource_defaults.memory = "1Gi"
    return request


def _ctx(template: tasks_pb2.TaskTemplate, request: dataplane_pb2.CreateExecutionRequest, **extra: Any) -> Any:
    execution = SimpleNamespace(
        key=ExecutionKey("p", "d", "e"),
        execution_id=request.id,
        request=request,
        execution_uri="file:///m/p/d/e",
        raw_output_prefix="file:///raw/e",
    )
    plugin = SimpleNamespace(id="container-plugin")
    return SimpleNamespace(
        execution=execution,
        task_template=lambda: template,
        plugins=SimpleNamespace(for_task_type=lambda task_type: plugin),
        state=NodeState(),
        path="n0",
        inputs_uri="file:///m/p/d/e/n0/inputs.pb",
        blobs=None,
        resources=None,
        inputs=None,
        inputs_blob=InputsBlob.WRITTEN,
        task_envs=extra.get("task_envs", {}),
    )


def test_template_and_config_parts_are_made_once_and_each_context_gets_its_own_dicts() -> None:
    handler = TaskNodeHandler()
    template, request = _template("2"), _request("first")
    _, first = handler._task_context(_ctx(template, request))
    _, second = handler._task_context(_ctx(template, request, task_envs={"ELEMENT": "3"}))
    assert first.resource_requests == Resources(cpu="2", memory="1Gi")
    assert second.resource_requests is first.resource_requests  # made once
    assert first.envs == {"WHO": "first"} and second.envs == {"WHO": "first", "ELEMENT": "3"}
    assert second.labels == first.labels == {"team": "a"} and second.labels is not first.labels
    first.envs["CHANGED"] = "by a plugin"
    _, third = handler._task_context(_ctx(template, request))
    assert third.envs == {"WHO": "first"}


def test_another_template_or_config_gets_its_own_parts() -> None:
    handler = TaskNodeHandler()
    template, request = _template("2"), _request("first")
    _, first = handler._task_context(_ctx(template, request))
    _, other_config = handler._task_context(_ctx(template, _request("second")))
    _, other_template = handler._task_context(_ctx(_template("4"), request))
    assert other_config.envs == {"WHO": "second"} and first.envs == {"WHO": "first"}
    assert other_template.resource_requests.cpu == "4" and first.resource_requests.cpu == "2"
