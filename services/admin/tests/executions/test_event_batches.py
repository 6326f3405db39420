"""aloft.events.v1 RecordEvents over real gRPC (SQLite and PostgreSQL): a batch is recorded in order in one
transaction, with the same answers the single-event RPCs give — duplicates, terminal refusals with their
EventFailureReason, cluster checks — and a refused event does not stop the others of its batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from aloft.events.v1 import events_pb2, events_pb2_grpc
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core
from sqlalchemy import event

from .test_events import CLUSTER, NODE, TASK, WF, node_event, node_id, task_event, wf_event

OK, FAILED_PRECONDITION = grpc.StatusCode.OK.value[0], grpc.StatusCode.FAILED_PRECONDITION.value[0]


def batch(*requests: Any) -> events_pb2.RecordEventsRequest:
    events = []
    for request in requests:
        kind = {"WorkflowExecutionEvent": "workflow", "NodeExecutionEvent": "node"}.get(
            request.event.DESCRIPTOR.name, "task"
        )
        events.append(events_pb2.Event(request_id=request.request_id, **{kind: request.event}))
    return events_pb2.RecordEventsRequest(events=events)


async def test_batch_records_a_whole_run_in_order(exec_server: Any) -> None:
    wid = exec_server.wid("batch-run")
    await exec_server.seed_execution(wid.name)
    stub = events_pb2_grpc.EventServiceStub(exec_server.channel)
    request = batch(
        wf_event(wid, WF.RUNNING, 1),
        node_event(wid, "n0", NODE.QUEUED, 2),
        node_event(wid, "n0", NODE.RUNNING, 3),
        task_event(wid, "n0", 0, TASK.RUNNING, 3),  # needs the node recorded earlier in the same batch
        task_event(wid, "n0", 0, TASK.SUCCEEDED, 4),
        node_event(wid, "n0", NODE.SUCCEEDED, 5, output_uri="s3://b/o"),
        wf_event(wid, WF.SUCCEEDED, 6, output_uri="s3://b/wo"),
    )
    response = await stub.RecordEvents(request)
    assert [o.code for o in response.outcomes] == [OK] * 7

    execution = await exec_server.admin.GetExecution(_get(wid))
    assert execution.closure.phase == WF.SUCCEEDED
    node = await exec_server.admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node_id(wid, "n0")))
    assert node.closure.phase == NODE.SUCCEEDED and node.closure.output_uri == "s3://b/o"
    tasks = await exec_server.admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, "n0"), limit=10)
    )
    assert [t.closure.phase for t in tasks.task_executions] == [TASK.SUCCEEDED]

    # A replay of recorded events (propeller resending after a lost answer) is answered as duplicates.
    replay = await stub.RecordEvents(events_pb2.RecordEventsRequest(events=request.events[-3:]))
    assert all(o.code in (OK, grpc.StatusCode.ALREADY_EXISTS.value[0]) for o in replay.outcomes)


async def test_refused_event_gets_its_reason_and_the_rest_are_recorded(exec_server: Any) -> None:
    wid = exec_server.wid("batch-refusal")
    await exec_server.seed_execution(wid.name)
    stub = events_pb2_grpc.EventServiceStub(exec_server.channel)
    first = await stub.RecordEvents(
        batch(node_event(wid, "n0", NODE.RUNNING, 1), node_event(wid, "n0", NODE.SUCCEEDED, 2))
    )
    assert [o.code for o in first.outcomes] == [OK, OK]

    response = await stub.RecordEvents(
        batch(
            node_event(wid, "n0", NODE.RUNNING, 3),  # n0 already SUCCEEDED: refused as terminal
            node_event(wid, "n1", NODE.RUNNING, 3),
            wf_event(wid, WF.RUNNING, 4, producer="west"),  # execution runs on CLUSTER: incompatible cluster
        )
    )
    refused, recorded, other_cluster = response.outcomes
    assert refused.code == FAILED_PRECONDITION
    assert refused.failure_reason.already_in_terminal_state.current_phase == "SUCCEEDED"
    assert recorded.code == OK
    assert other_cluster.code == FAILED_PRECONDITION
    assert other_cluster.failure_reason.incompatible_cluster.cluster == CLUSTER
    n1 = await exec_server.admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node_id(wid, "n1")))
    assert n1.closure.phase == NODE.RUNNING
    execution = await exec_server.admin.GetExecution(_get(wid))
    assert execution.closure.phase == core.WorkflowExecution.QUEUED


async def test_event_without_a_body_is_invalid(exec_server: Any) -> None:
    stub = events_pb2_grpc.EventServiceStub(exec_server.channel)
    response = await stub.RecordEvents(events_pb2.RecordEventsRequest(events=[events_pb2.Event(request_id="x")]))
    assert response.outcomes[0].code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


@contextmanager
def statements(engine: Any) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs meanwhile."""
    sent: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_first_task_events_check_their_nodes_in_one_statement(exec_server: Any) -> None:
    """A batch's first task events of nodes recorded before it: their nodes' existence is read once per execution
    (not a query per event), so the batch's reads of node executions do not grow with its size; an unknown node is
    still NOT_FOUND, and its batch's other events are recorded."""
    stub = events_pb2_grpc.EventServiceStub(exec_server.channel)
    sent_for = {}
    for size in (2, 6):
        wid = exec_server.wid(f"batch-tasks-{size}")
        await exec_server.seed_execution(wid.name)
        nodes = [f"n{i}" for i in range(size)]
        recorded = await stub.RecordEvents(batch(*(node_event(wid, n, NODE.RUNNING, 1) for n in nodes)))
        assert [o.code for o in recorded.outcomes] == [OK] * size
        with statements(exec_server.deps.db.engine) as sent:
            response = await stub.RecordEvents(batch(*(task_event(wid, n, 0, TASK.RUNNING, 2) for n in nodes)))
        assert [o.code for o in response.outcomes] == [OK] * size
        # Only the node reads: a new pooled connection's own setup statements may come and go.
        sent_for[size] = len([statement for statement in sent if "FROM node_executions" in statement])
        tasks = await exec_server.admin.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, nodes[-1]), limit=10)
        )
        assert [t.closure.phase for t in tasks.task_executions] == [TASK.RUNNING]
    assert sent_for[2] == sent_for[6] == 1

    response = await stub.RecordEvents(
        batch(task_event(wid, "n0", 1, TASK.RUNNING, 3), task_event(wid, "unknown", 0, TASK.RUNNING, 3))
    )
    assert [o.code for o in response.outcomes] == [OK, grpc.StatusCode.NOT_FOUND.value[0]]


def _get(wid: Any) -> execution_pb2.WorkflowExecutionGetRequest:
    return execution_pb2.WorkflowExecutionGetRequest(id=wid)
