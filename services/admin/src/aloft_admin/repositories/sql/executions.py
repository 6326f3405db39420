"""SQL access to execution, node-execution and task-execution rows.

Rows are read for update under a lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLAlchemy omits it on SQLite)
and written with a version check (the models' ``version_id_col``): a concurrent writer that won makes our
flush fail with ``Aborted``, so callers retry from fresh state instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flyteidl.core import identifier_pb2
from sqlalchemy import Select, select
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


def _execution_query(wid: identifier_pb2.WorkflowExecutionIdentifier) -> Select[Any]:
    return select(ExecutionModel).where(
        ExecutionModel.org == wid.org,
        ExecutionModel.project == wid.project,
        ExecutionModel.domain == wid.domain,
        ExecutionModel.name == wid.name,
    )


async def find_execution(
    session: AsyncSession, wid: identifier_pb2.WorkflowExecutionIdentifier, *, for_update: bool = False
) -> ExecutionModel | None:
    stmt = _execution_query(wid)
    if for_update:
        stmt = stmt.with_for_update()
    row: Any = (await session.execute(stmt)).scalar_one_or_none()
    return row


def node_executions_of(wid: identifier_pb2.WorkflowExecutionIdentifier) -> Select[Any]:
    return select(NodeExecutionModel).where(
        NodeExecutionModel.execution_org == wid.org,
        NodeExecutionModel.execution_project == wid.project,
        NodeExecutionModel.execution_domain == wid.domain,
        NodeExecutionModel.execution_name == wid.name,
    )


async def find_node_execution(
    session: AsyncSession, nid: identifier_pb2.NodeExecutionIdentifier, *, for_update: bool = False
) -> NodeExecutionModel | None:
    stmt = node_executions_of(nid.execution_id).where(NodeExecutionModel.node_id == nid.node_id)
    if for_update:
        stmt = stmt.with_for_update()
    row: Any = (await session.execute(stmt)).scalar_one_or_none()
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


async def find_task_execution(
    session: AsyncSession, tid: identifier_pb2.TaskExecutionIdentifier, *, for_update: bool = False
) -> TaskExecutionModel | None:
    task = tid.task_id
    stmt = task_executions_of(tid.node_execution_id).where(
        TaskExecutionModel.task_project == task.project,
        TaskExecutionModel.task_domain == task.domain,
        TaskExecutionModel.task_name == task.name,
        TaskExecutionModel.task_version == task.version,
        TaskExecutionModel.retry_attempt == tid.retry_attempt,
    )
    if for_update:
        stmt = stmt.with_for_update()
    row: Any = (await session.execute(stmt)).scalar_one_or_none()
    return row


async def node_executions_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, NodeExecutionModel]:
    if not ids:
        return {}
    rows = (await session.execute(select(NodeExecutionModel).where(NodeExecutionModel.id.in_(ids)))).scalars()
    return {row.id: row for row in rows}
