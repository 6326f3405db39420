"""Entities registered over admin's public gRPC API, for tests (of admin and of its clients) that need something to
execute. flyteidl messages only: tests of other services never import admin."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import task_pb2
from flyteidl.core import identifier_pb2, interface_pb2, tasks_pb2


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
