"""Validation of execution, node-execution and task-execution identifiers (INVALID_ARGUMENT naming the field)."""

from __future__ import annotations

from flyteidl.core import identifier_pb2

from aloft_service.errors import InvalidArgument


def require(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"missing {field}")


def validate_execution_id(wid: identifier_pb2.WorkflowExecutionIdentifier, field: str = "id") -> None:
    require(wid.project, f"{field}.project")
    require(wid.domain, f"{field}.domain")
    require(wid.name, f"{field}.name")


def validate_node_execution_id(nid: identifier_pb2.NodeExecutionIdentifier, field: str = "id") -> None:
    validate_execution_id(nid.execution_id, f"{field}.execution_id")
    require(nid.node_id, f"{field}.node_id")


def validate_task_execution_id(tid: identifier_pb2.TaskExecutionIdentifier, field: str = "id") -> None:
    validate_node_execution_id(tid.node_execution_id, f"{field}.node_execution_id")
    require(tid.task_id.project, f"{field}.task_id.project")
    require(tid.task_id.domain, f"{field}.task_id.domain")
    require(tid.task_id.name, f"{field}.task_id.name")
    require(tid.task_id.version, f"{field}.task_id.version")


def describe_execution(wid: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    org = f"{wid.org}:" if wid.org else ""
    return f"execution {org}{wid.project}/{wid.domain}/{wid.name}"


def describe_node_execution(nid: identifier_pb2.NodeExecutionIdentifier) -> str:
    return f"node execution {nid.node_id} of {describe_execution(nid.execution_id)}"


def describe_task_execution(tid: identifier_pb2.TaskExecutionIdentifier) -> str:
    task = tid.task_id
    return (
        f"task execution {task.project}/{task.domain}/{task.name}@{task.version} attempt {tid.retry_attempt}"
        f" of {describe_node_execution(tid.node_execution_id)}"
    )
