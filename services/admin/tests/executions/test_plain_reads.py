"""The hot reads outside any unit of work (``RepositoryProvider.reads``: GetExecution, plain ListNodeExecutions and
ListTaskExecutions) answer exactly what the ORM path answers for the same rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.event import event_pb2

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.transformers.executions import to_execution
from aloft_admin.transformers.node_executions import to_node_execution
from aloft_admin.transformers.task_executions import to_task_execution

from .test_events import NODE, TASK, WF, node_event, node_id, task_event, wf_event


async def _seed(exec_server: Any, name: str) -> Any:
    """An execution that ran: a finished node with two attempts, a running parent with a child, a queued node."""
    admin, wid = exec_server.admin, exec_server.wid(name)
    await exec_server.seed_execution(name)
    await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 1))
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.RUNNING, 2))
    await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.RUNNING, 3))
    await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.RETRYABLE_FAILED, 4))
    await admin.CreateTaskEvent(task_event(wid, "n0", 1, TASK.RUNNING, 5))
    await admin.CreateTaskEvent(task_event(wid, "n0", 1, TASK.SUCCEEDED, 6.25))
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.SUCCEEDED, 7))
    await admin.CreateNodeEvent(node_event(wid, "n1", NODE.RUNNING, 8, is_parent=True))
    child = event_pb2.ParentNodeExecutionMetadata(node_id="n1")
    await admin.CreateNodeEvent(node_event(wid, "n1-0-n0", NODE.RUNNING, 9, parent_node_metadata=child))
    await admin.CreateNodeEvent(node_event(wid, "n2", NODE.QUEUED, 10))
    return wid


async def test_plain_reads_answer_as_the_orm_rows_do(exec_server: Any) -> None:
    wid = await _seed(exec_server, "plain")
    repos = exec_server.deps.repos
    async with repos.transaction(reads=True) as tx:
        execution = to_execution(await tx.executions.get(wid))
        n1 = await tx.node_executions.get(node_id(wid, "n1"))
        pages = []
        for limit, token in ((10, ""), (1, ""), (1, "1"), (2, "2")):
            query = ListQuery(limit=limit, token=token)
            nodes, node_token = await tx.node_executions.page(wid, query, top_level=True)
            children, child_token = await tx.node_executions.page(wid, query, parent_id=n1.id)
            tasks, task_token = await tx.task_executions.page(node_id(wid, "n0"), query)
            pages.append((query, nodes, node_token, children, child_token, tasks, task_token))
    assert to_execution(await repos.reads.execution(wid)) == execution
    assert execution.closure.phase == WF.RUNNING and execution.closure.HasField("started_at")
    for query, nodes, node_token, children, child_token, tasks, task_token in pages:
        plain_nodes, plain_node_token = await repos.reads.node_executions_page(wid, query)
        assert [to_node_execution(r) for r in plain_nodes] == [to_node_execution(r) for r in nodes]
        assert plain_node_token == node_token
        plain_children, plain_child_token = await repos.reads.node_executions_page(wid, query, parent_id=n1.id)
        assert [to_node_execution(r) for r in plain_children] == [to_node_execution(r) for r in children]
        assert plain_child_token == child_token
        plain_tasks, plain_task_token = await repos.reads.task_executions_page(node_id(wid, "n0"), query)
        assert [to_task_execution(r) for r in plain_tasks] == [to_task_execution(r) for r in tasks]
        assert plain_task_token == task_token
    first = pages[0]
    assert [to_node_execution(r).id.node_id for r in first[1]] == ["n0", "n1", "n2"]
    assert [to_node_execution(r).id.node_id for r in first[3]] == ["n1-0-n0"]
    assert [to_task_execution(r).closure.phase for r in first[5]] == [TASK.RETRYABLE_FAILED, TASK.SUCCEEDED]
    assert await repos.reads.execution(exec_server.wid("absent")) is None


async def test_the_plain_rpcs_answer_as_before(exec_server: Any) -> None:
    """Over gRPC: GetExecution, ListNodeExecutions (top level and children) and ListTaskExecutions without filters
    equal their filtered twins (which take the ORM path), and unknown ids and bad pages are refused as before."""
    admin = exec_server.admin
    wid = await _seed(exec_server, "rpcs")
    got = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
    assert got.closure.phase == WF.RUNNING and got.id == wid
    for parent in ("", "n1"):
        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=wid, limit=2, unique_parent_id=parent
        )
        plain = await admin.ListNodeExecutions(request)
        request.filters = "ne(phase,UNDEFINED)"
        assert await admin.ListNodeExecutions(request) == plain
    request = task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, "n0"), limit=10)
    plain_tasks = await admin.ListTaskExecutions(request)
    request.filters = "gte(retry_attempt,0)"
    assert await admin.ListTaskExecutions(request) == plain_tasks
    assert [t.id.retry_attempt for t in plain_tasks.task_executions] == [0, 1]

    refusals = [
        (admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_server.wid("absent"))), "NOT_FOUND"),
        (admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest()), "INVALID_ARGUMENT"),
        (
            admin.ListNodeExecutions(
                node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_server.wid("absent"), limit=1)
            ),
            "NOT_FOUND",
        ),
        (
            admin.ListNodeExecutions(node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=0)),
            "INVALID_ARGUMENT",
        ),
        (
            admin.ListTaskExecutions(
                task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, "nx"), limit=1, token="x")
            ),
            "NOT_FOUND",
        ),
    ]
    for call, code in refusals:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == getattr(grpc.StatusCode, code)
