"""SQL access to execution, node-execution and task-execution rows.

Rows are read for update under a lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLAlchemy omits it on SQLite)
and written with a version check (the models' ``version_id_col``): a concurrent writer that won makes our
flush fail with ``Aborted``, so callers retry from fresh state instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flyteidl.core import identifier_pb2
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from aloft_admin.repositories.models.executions import ExecutionModel, NodeExecutionModel, TaskExecutionModel
from aloft_service.errors import Aborted


async def flush_checked(session: AsyncSession) -> None:
    """Flush pending writes; a lost version race becomes ABORTED (retryable)."""
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Aborted("the entity was updated concurrently, retry") from exc


# The hot lookups (events, GetExecution) reuse one statement with bound parameters: building and cache-keying a
# fresh SELECT per call is a measurable share of an event's CPU.
_FIND_EXECUTION = select(ExecutionModel).where(
    ExecutionModel.org == bindparam("org"),
    ExecutionModel.project == bindparam("project"),
    ExecutionModel.domain == bindparam("domain"),
    ExecutionModel.name == bindparam("name"),
)
_FIND_EXECUTION_FOR_UPDATE = _FIND_EXECUTION.with_for_update()


def _execution_params(wid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, str]:
    return {"org": wid.org, "project": wid.project, "domain": wid.domain, "name": wid.name}


_EXECUTION_CLUSTER = select(ExecutionModel.cluster).where(
    ExecutionModel.org == bindparam("org"),
    ExecutionModel.project == bindparam("project"),
    ExecutionModel.domain == bindparam("domain"),
    ExecutionModel.name == bindparam("name"),
)


async def find_execution_cluster(session: AsyncSession, wid: identifier_pb2.WorkflowExecutionIdentifier) -> str | None:
    """The cluster an execution was handed to ("" before the hand-off); None when there is no such execution."""
    cluster: str | None = (await session.execute(_EXECUTION_CLUSTER, _execution_params(wid))).scalar_one_or_none()
    return cluster


async def find_execution(
    session: AsyncSession, wid: identifier_pb2.WorkflowExecutionIdentifier, *, for_update: bool = False
) -> ExecutionModel | None:
    stmt = _FIND_EXECUTION_FOR_UPDATE if for_update else _FIND_EXECUTION
    row: Any = (await session.execute(stmt, _execution_params(wid))).scalar_one_or_none()
    return row


def node_executions_of(wid: identifier_pb2.WorkflowExecutionIdentifier) -> Select[Any]:
    return select(NodeExecutionModel).where(
        NodeExecutionModel.execution_org == wid.org,
        NodeExecutionModel.execution_project == wid.project,
        NodeExecutionModel.execution_domain == wid.domain,
        NodeExecutionModel.execution_name == wid.name,
    )


_FIND_NODE_EXECUTION = select(NodeExecutionModel).where(
    NodeExecutionModel.execution_org == bindparam("org"),
    NodeExecutionModel.execution_project == bindparam("project"),
    NodeExecutionModel.execution_domain == bindparam("domain"),
    NodeExecutionModel.execution_name == bindparam("name"),
    NodeExecutionModel.node_id == bindparam("node_id"),
)
_FIND_NODE_EXECUTION_FOR_UPDATE = _FIND_NODE_EXECUTION.with_for_update()


def _node_execution_params(nid: identifier_pb2.NodeExecutionIdentifier) -> dict[str, str]:
    return {**_execution_params(nid.execution_id), "node_id": nid.node_id}


async def find_node_execution(
    session: AsyncSession, nid: identifier_pb2.NodeExecutionIdentifier, *, for_update: bool = False
) -> NodeExecutionModel | None:
    stmt = _FIND_NODE_EXECUTION_FOR_UPDATE if for_update else _FIND_NODE_EXECUTION
    row: Any = (await session.execute(stmt, _node_execution_params(nid))).scalar_one_or_none()
    return row


def task_executions_of(nid: identifier_pb2.NodeExecutionIdentifier) -> Select[Any]:
    wid = nid.execution_id
    return select(TaskExecutionModel).where(
        TaskExecutionModel.execution_org == wid.org,
        TaskExecutionModel.execution_project == wid.project,
        TaskExecutionModel.execution_domain == wid.domain,
        TaskExecutionModel.execution_name == wid.name,
        TaskExecutionModel.node_id == nid.node_id,
    )


_FIND_TASK_EXECUTION = select(TaskExecutionModel).where(
    TaskExecutionModel.execution_org == bindparam("org"),
    TaskExecutionModel.execution_project == bindparam("project"),
    TaskExecutionModel.execution_domain == bindparam("domain"),
    TaskExecutionModel.execution_name == bindparam("name"),
    TaskExecutionModel.node_id == bindparam("node_id"),
    TaskExecutionModel.task_project == bindparam("task_project"),
    TaskExecutionModel.task_domain == bindparam("task_domain"),
    TaskExecutionModel.task_name == bindparam("task_name"),
    TaskExecutionModel.task_version == bindparam("task_version"),
    TaskExecutionModel.retry_attempt == bindparam("retry_attempt"),
)
_FIND_TASK_EXECUTION_FOR_UPDATE = _FIND_TASK_EXECUTION.with_for_update()


async def find_task_execution(
    session: AsyncSession, tid: identifier_pb2.TaskExecutionIdentifier, *, for_update: bool = False
) -> TaskExecutionModel | None:
    task = tid.task_id
    params: dict[str, Any] = {
        **_node_execution_params(tid.node_execution_id),
        "task_project": task.project,
        "task_domain": task.domain,
        "task_name": task.name,
        "task_version": task.version,
        "retry_attempt": tid.retry_attempt,
    }
    stmt = _FIND_TASK_EXECUTION_FOR_UPDATE if for_update else _FIND_TASK_EXECUTION
    row: Any = (await session.execute(stmt, params)).scalar_one_or_none()
    return row


async def node_executions_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, NodeExecutionModel]:
    if not ids:
        return {}
    rows = (await session.execute(select(NodeExecutionModel).where(NodeExecutionModel.id.in_(ids)))).scalars()
    return {row.id: row for row in rows}
