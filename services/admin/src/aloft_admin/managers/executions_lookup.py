"""Read-only lookups of executions for other admin areas (signals, dataproxy, gateway).

Each takes the repositories of the caller's transaction (``RepositoryProvider.transaction()``) and raises
INVALID_ARGUMENT for a malformed identifier, NOT_FOUND naming the identifier when it does not exist.
"""

from __future__ import annotations

from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.base import PlainReads, Repositories
from aloft_admin.repositories.models.executions import ExecutionModel, NodeExecutionModel, TaskExecutionModel
from aloft_admin.transformers.executions import to_execution
from aloft_admin.transformers.node_executions import to_node_execution
from aloft_admin.transformers.task_executions import to_task_execution
from aloft_admin.validation.execution_identifiers import (
    describe_execution,
    describe_node_execution,
    describe_task_execution,
    validate_execution_id,
    validate_node_execution_id,
    validate_task_execution_id,
)
from aloft_service.errors import NotFound


async def read_execution_row(reads: PlainReads, wid: identifier_pb2.WorkflowExecutionIdentifier) -> ExecutionModel:
    """``get_execution_row`` outside any unit of work (``PlainReads``): a row of the execution's columns."""
    validate_execution_id(wid)
    row = await reads.execution(wid)
    if row is None:
        raise NotFound(f"{describe_execution(wid)} not found")
    return row


async def get_execution_row(
    tx: Repositories, wid: identifier_pb2.WorkflowExecutionIdentifier, *, for_update: bool = False
) -> ExecutionModel:
    validate_execution_id(wid)
    row = await tx.executions.get(wid, for_update=for_update)
    if row is None:
        raise NotFound(f"{describe_execution(wid)} not found")
    return row


async def get_node_execution_row(
    tx: Repositories, nid: identifier_pb2.NodeExecutionIdentifier, *, for_update: bool = False
) -> NodeExecutionModel:
    validate_node_execution_id(nid)
    row = await tx.node_executions.get(nid, for_update=for_update)
    if row is None:
        raise NotFound(f"{describe_node_execution(nid)} not found")
    return row


async def get_task_execution_row(
    tx: Repositories, tid: identifier_pb2.TaskExecutionIdentifier, *, for_update: bool = False
) -> TaskExecutionModel:
    validate_task_execution_id(tid)
    row = await tx.task_executions.get(tid, for_update=for_update)
    if row is None:
        raise NotFound(f"{describe_task_execution(tid)} not found")
    return row


async def get_execution(tx: Repositories, wid: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
    return to_execution(await get_execution_row(tx, wid))


async def get_node_execution(
    tx: Repositories, nid: identifier_pb2.NodeExecutionIdentifier
) -> node_execution_pb2.NodeExecution:
    return to_node_execution(await get_node_execution_row(tx, nid))


async def get_task_execution(
    tx: Repositories, tid: identifier_pb2.TaskExecutionIdentifier
) -> task_execution_pb2.TaskExecution:
    return to_task_execution(await get_task_execution_row(tx, tid))
