"""Entities registered over admin's public gRPC API, for tests (of admin and of its clients) that need something to
execute. flyteidl messages only: tests of other services never import admin."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow


async def register_task(
    admin: Any,
    task_id: identifier_pb2.Identifier,
    interface: interface_pb2.TypedInterface,
    task_type: str = "python-task",
    container: tasks_pb2.Container | None = None,
    runtime: tasks_pb2.RuntimeMetadata | None = None,
) -> tasks_pb2.TaskTemplate:
    """CreateTask (``admin`` is an AdminService stub) of a task shaped, by default, as flytekit registers a python
    task: FLYTE_SDK runtime, a ``pyflyte-execute`` container. Returns the template."""
    template = tasks_pb2.TaskTemplate(
        id=task_id,
        type=task_type,
        metadata=tasks_pb2.TaskMetadata(
            runtime=runtime or tasks_pb2.RuntimeMetadata(type=tasks_pb2.RuntimeMetadata.FLYTE_SDK, version="1.16.0")
        ),
        interface=interface,
        container=container or tasks_pb2.Container(image="python:3.11", args=["pyflyte-execute"]),
    )
    await admin.CreateTask(task_pb2.TaskCreateRequest(id=task_id, spec=task_pb2.TaskSpec(template=template)))
    return template


def register_workflow_and_launch_plan(
    admin: Any,
    template: core_workflow.WorkflowTemplate,
    required_inputs: dict[str, types_pb2.LiteralType] | None = None,
) -> identifier_pb2.Identifier:
    """CreateWorkflow of ``template`` (``admin`` is a synchronous AdminService stub), then CreateLaunchPlan of its
    launch plan (the workflow's name and version, ``required_inputs`` as required parameters). Returns the launch
    plan's id."""
    admin.CreateWorkflow(
        workflow_pb2.WorkflowCreateRequest(id=template.id, spec=workflow_pb2.WorkflowSpec(template=template))
    )
    lp_id = identifier_pb2.Identifier()
    lp_id.CopyFrom(template.id)
    lp_id.resource_type = identifier_pb2.LAUNCH_PLAN
    parameters = interface_pb2.ParameterMap(
        parameters={
            name: interface_pb2.Parameter(var=interface_pb2.Variable(type=kind), required=True)
            for name, kind in (required_inputs or {}).items()
        }
    )
    spec = launch_plan_pb2.LaunchPlanSpec(workflow_id=template.id, default_inputs=parameters)
    admin.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=lp_id, spec=spec))
    return lp_id
