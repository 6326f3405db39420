"""GetExecutionMetrics: a span tree built from recorded events (execution → nodes → task attempts / child nodes).

Each span runs from the entity's start (``started_at``, else its creation) to its end (start + duration once
terminal, else its last update). ``depth`` bounds how many node levels below the execution are expanded
(flyteadmin's default is 10).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from flyteidl.admin import execution_pb2
from flyteidl.core import metrics_pb2

from aloft_admin.managers.executions_lookup import get_execution_row
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.models.executions import NodeExecutionModel, TaskExecutionModel
from aloft_admin.transformers.executions import execution_identifier
from aloft_admin.transformers.node_executions import node_execution_identifier
from aloft_admin.transformers.task_executions import task_execution_identifier
from aloft_admin.transformers.timestamps import aware, to_timestamp

DEFAULT_DEPTH = 10


def _bounds(
    started: datetime | None, created: datetime | None, updated: datetime | None, duration: float
) -> tuple[datetime | None, datetime | None]:
    start = started or created
    if start is None:
        return None, None
    end = aware(start) + timedelta(seconds=duration) if started is not None and duration > 0 else updated
    return aware(start), aware(end) if end is not None else None


def _span(start: datetime | None, end: datetime | None) -> metrics_pb2.Span:
    span = metrics_pb2.Span()
    if start is not None:
        span.start_time.CopyFrom(to_timestamp(start))
    if end is not None:
        span.end_time.CopyFrom(to_timestamp(end))
    return span


class ExecutionMetricsManager:
    def __init__(self, repos: RepositoryProvider) -> None:
        self._repos = repos

    async def get(
        self, request: execution_pb2.WorkflowExecutionGetMetricsRequest
    ) -> execution_pb2.WorkflowExecutionGetMetricsResponse:
        depth = request.depth if request.depth > 0 else DEFAULT_DEPTH
        async with self._repos.transaction() as tx:
            row = await get_execution_row(tx, request.id)
            nodes = await tx.node_executions.all_of(request.id)
            tasks = await tx.task_executions.all_of(request.id)
        root = _span(*_bounds(row.started_at, row.execution_created_at, row.execution_updated_at, row.duration))
        root.workflow_id.CopyFrom(execution_identifier(row))
        children: dict[int | None, list[NodeExecutionModel]] = defaultdict(list)
        for node in nodes:
            children[node.parent_id].append(node)
        attempts: dict[str, list[TaskExecutionModel]] = defaultdict(list)
        for task in sorted(tasks, key=lambda t: t.retry_attempt):
            attempts[task.node_id].append(task)
        root.spans.extend(_node_spans(children, attempts, None, depth))
        return execution_pb2.WorkflowExecutionGetMetricsResponse(span=root)


def _node_spans(
    children: dict[int | None, list[NodeExecutionModel]],
    attempts: dict[str, list[TaskExecutionModel]],
    parent: int | None,
    depth: int,
) -> list[metrics_pb2.Span]:
    if depth <= 0:
        return []
    spans = []
    for node in sorted(children.get(parent, []), key=lambda n: n.id):
        span = _span(
            *_bounds(node.started_at, node.node_execution_created_at, node.node_execution_updated_at, node.duration)
        )
        span.node_id.CopyFrom(node_execution_identifier(node))
        for task in attempts.get(node.node_id, []):
            task_span = _span(
                *_bounds(task.started_at, task.task_execution_created_at, task.task_execution_updated_at, task.duration)
            )
            task_span.task_id.CopyFrom(task_execution_identifier(task))
            span.spans.append(task_span)
        span.spans.extend(_node_spans(children, attempts, node.id, depth - 1))
        spans.append(span)
    return spans
