"""Workflow, node and task events over real gRPC (SQLite and PostgreSQL): lifecycle, relations, attempts,
idempotent duplicates, terminal refusals and cluster checks with their EventFailureReason details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2, compiler_pb2, identifier_pb2, literals_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import workflow_pb2 as core_wf
from flyteidl.event import event_pb2
from google.protobuf import timestamp_pb2
from grpc_status import rpc_status

WF, NODE, TASK = core.WorkflowExecution, core.NodeExecution, core.TaskExecution
CLUSTER = "east"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(T0 + timedelta(seconds=seconds))
    return stamp


def wf_event(wid: Any, phase: int, t: float, producer: str = CLUSTER, **kw: Any) -> Any:
    event = event_pb2.WorkflowExecutionEvent(
        execution_id=wid, phase=phase, occurred_at=at(t), producer_id=producer, **kw
    )
    return admin_event_pb2.WorkflowExecutionEventRequest(request_id="r", event=event)


def node_id(wid: Any, node: str) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=wid)


def node_event(wid: Any, node: str, phase: int, t: float, **kw: Any) -> Any:
    kw.setdefault("producer_id", CLUSTER)
    event = event_pb2.NodeExecutionEvent(id=node_id(wid, node), phase=phase, occurred_at=at(t), **kw)
    return admin_event_pb2.NodeExecutionEventRequest(request_id="r", event=event)


TASK_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name="t1", version="v1"
)


def task_event(wid: Any, node: str, attempt: int, phase: int, t: float, **kw: Any) -> Any:
    event = event_pb2.TaskExecutionEvent(
        task_id=TASK_ID,
        parent_node_execution_id=node_id(wid, node),
        retry_attempt=attempt,
        phase=phase,
        occurred_at=at(t),
        **{"producer_id": CLUSTER, **kw},
    )
    return admin_event_pb2.TaskExecutionEventRequest(request_id="r", event=event)


def failure_reason(error: grpc.aio.AioRpcError) -> admin_event_pb2.EventFailureReason:
    status = rpc_status.from_call(error)
    assert status is not None and len(status.details) == 1
    reason = admin_event_pb2.EventFailureReason()
    assert status.details[0].Unpack(reason)
    return reason


def outputs(value: int, literals: Any) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"o0": literals.int_(value)})


async def test_workflow_lifecycle_with_outputs(exec_server: Any, literals: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("life")
    await exec_server.seed_execution("life")
    await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 1))
    running = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
    assert running.closure.phase == WF.RUNNING
    assert running.closure.started_at == at(1)

    await admin.CreateWorkflowEvent(wf_event(wid, WF.SUCCEEDING, 4))
    await admin.CreateWorkflowEvent(wf_event(wid, WF.SUCCEEDED, 5.5, output_data=outputs(42, literals)))
    done = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
    assert done.closure.phase == WF.SUCCEEDED
    assert done.closure.duration.ToTimedelta() == timedelta(seconds=4.5)
    assert done.closure.outputs.uri.endswith("outputs.pb")

    data = await admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=wid))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 42
    assert data.outputs.url and data.outputs.bytes > 0


async def closures(exec_server: Any, wid: Any) -> tuple[Any, Any, Any]:
    """What the matrix checks stays unchanged: the execution, node n0 and attempt 0 of n0 as Get* return them."""
    admin = exec_server.admin
    execution = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
    node = await admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node_id(wid, "n0")))
    tid = identifier_pb2.TaskExecutionIdentifier(task_id=TASK_ID, node_execution_id=node_id(wid, "n0"))
    task = await admin.GetTaskExecution(task_execution_pb2.TaskExecutionGetRequest(id=tid))
    return execution, node, task


async def seed_running(exec_server: Any, name: str) -> Any:
    """An execution RUNNING, node n0 RUNNING, attempt 0 RUNNING at phase_version 2."""
    admin, wid = exec_server.admin, exec_server.wid(name)
    await exec_server.seed_execution(name)
    await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 1))
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.RUNNING, 2))
    await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.RUNNING, 3, phase_version=2))
    return wid


# (RPC, event builder, expected code, the EventFailureReason it carries) on an execution/node/attempt RUNNING.
# Duplicates (same phase; for tasks also a phase_version not newer) answer ALREADY_EXISTS as flyteadmin does;
# out-of-order moves FAILED_PRECONDITION; a producer other than the assigned cluster FAILED_PRECONDITION with
# incompatible_cluster even for what would be a duplicate (the cluster is checked first).
RUNNING_MATRIX: list[tuple[str, str, Any, grpc.StatusCode, str | None]] = [
    ("wf-duplicate", "CreateWorkflowEvent", lambda w: wf_event(w, WF.RUNNING, 9), grpc.StatusCode.ALREADY_EXISTS, None),
    ("wf-back", "CreateWorkflowEvent", lambda w: wf_event(w, WF.QUEUED, 9), grpc.StatusCode.FAILED_PRECONDITION, None),
    (
        "wf-cluster",
        "CreateWorkflowEvent",
        lambda w: wf_event(w, WF.RUNNING, 9, producer="west"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "incompatible_cluster",
    ),
    (
        "node-dup",
        "CreateNodeEvent",
        lambda w: node_event(w, "n0", NODE.RUNNING, 9),
        grpc.StatusCode.ALREADY_EXISTS,
        None,
    ),
    (
        "node-cluster",
        "CreateNodeEvent",
        lambda w: node_event(w, "n0", NODE.RUNNING, 9, producer_id="west"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "incompatible_cluster",
    ),
    (
        "node-cluster-new-node",
        "CreateNodeEvent",
        lambda w: node_event(w, "n7", NODE.RUNNING, 9, producer_id="west"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "incompatible_cluster",
    ),
    (
        "task-dup",
        "CreateTaskEvent",
        lambda w: task_event(w, "n0", 0, TASK.RUNNING, 9, phase_version=2),
        grpc.StatusCode.ALREADY_EXISTS,
        None,
    ),
    (
        "task-older-version",
        "CreateTaskEvent",
        lambda w: task_event(w, "n0", 0, TASK.RUNNING, 9, phase_version=1),
        grpc.StatusCode.ALREADY_EXISTS,
        None,
    ),
    (
        "task-cluster",
        "CreateTaskEvent",
        lambda w: task_event(w, "n0", 0, TASK.RUNNING, 9, phase_version=2, producer_id="west"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "incompatible_cluster",
    ),
    (
        "task-cluster-new-attempt",
        "CreateTaskEvent",
        lambda w: task_event(w, "n0", 1, TASK.RUNNING, 9, producer_id="west"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "incompatible_cluster",
    ),
]


@pytest.mark.parametrize(("case", "rpc", "build", "code", "reason"), RUNNING_MATRIX, ids=[c[0] for c in RUNNING_MATRIX])
async def test_refused_events_answer_flytes_codes_and_change_nothing(
    exec_server: Any, case: str, rpc: str, build: Any, code: grpc.StatusCode, reason: str | None
) -> None:
    wid = await seed_running(exec_server, case.replace("-", ""))
    before = await closures(exec_server, wid)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(exec_server.admin, rpc)(build(wid))
    assert caught.value.code() == code, caught.value.details()
    if reason is not None:
        assert failure_reason(caught.value).incompatible_cluster.cluster == CLUSTER
    assert await closures(exec_server, wid) == before
    if case == "node-cluster-new-node":
        listed = await exec_server.admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=10)
        )
        assert [n.id.node_id for n in listed.node_executions] == ["n0"]


async def test_terminal_matrix_for_workflow_node_and_task(exec_server: Any) -> None:
    """After the terminal event, the same terminal phase is a duplicate (ALREADY_EXISTS) and any other phase is
    FAILED_PRECONDITION with already_in_terminal_state naming the recorded phase; the stored rows are unchanged."""
    admin = exec_server.admin
    wid = await seed_running(exec_server, "terminal")
    error = core.ExecutionError(code="E", message="boom", kind=core.ExecutionError.USER)
    await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.FAILED, 4, phase_version=0, error=error))
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.FAILED, 5, error=error))
    await admin.CreateWorkflowEvent(wf_event(wid, WF.FAILED, 6, error=error))
    before = await closures(exec_server, wid)
    later = [
        ("CreateWorkflowEvent", wf_event(wid, WF.FAILED, 7, error=error), "FAILED", grpc.StatusCode.ALREADY_EXISTS),
        ("CreateWorkflowEvent", wf_event(wid, WF.RUNNING, 7), "FAILED", grpc.StatusCode.FAILED_PRECONDITION),
        ("CreateWorkflowEvent", wf_event(wid, WF.SUCCEEDED, 7), "FAILED", grpc.StatusCode.FAILED_PRECONDITION),
        ("CreateNodeEvent", node_event(wid, "n0", NODE.FAILED, 7), "FAILED", grpc.StatusCode.ALREADY_EXISTS),
        ("CreateNodeEvent", node_event(wid, "n0", NODE.RUNNING, 7), "FAILED", grpc.StatusCode.FAILED_PRECONDITION),
        ("CreateNodeEvent", node_event(wid, "n0", NODE.SUCCEEDED, 7), "FAILED", grpc.StatusCode.FAILED_PRECONDITION),
        ("CreateTaskEvent", task_event(wid, "n0", 0, TASK.FAILED, 7), "FAILED", grpc.StatusCode.ALREADY_EXISTS),
        ("CreateTaskEvent", task_event(wid, "n0", 0, TASK.RUNNING, 7), "FAILED", grpc.StatusCode.FAILED_PRECONDITION),
        ("CreateTaskEvent", task_event(wid, "n0", 0, TASK.SUCCEEDED, 7), "FAILED", grpc.StatusCode.FAILED_PRECONDITION),
    ]
    for rpc, request, phase, code in later:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(admin, rpc)(request)
        assert caught.value.code() == code, (rpc, request.event.phase, caught.value.details())
        if code == grpc.StatusCode.FAILED_PRECONDITION:
            assert failure_reason(caught.value).already_in_terminal_state.current_phase == phase
    assert await closures(exec_server, wid) == before


async def test_events_from_flytes_default_producer_are_accepted_on_any_cluster(exec_server: Any) -> None:
    admin = exec_server.admin
    wid = await seed_running(exec_server, "defaultproducer")
    await admin.CreateNodeEvent(node_event(wid, "n1", NODE.RUNNING, 4, producer_id="propeller"))
    await admin.CreateTaskEvent(task_event(wid, "n1", 0, TASK.RUNNING, 5, producer_id="propeller"))
    await admin.CreateWorkflowEvent(wf_event(wid, WF.SUCCEEDING, 6, producer="propeller"))


async def test_inline_outputs_over_the_remote_data_limit_are_resource_exhausted(
    exec_server: Any, literals: Any
) -> None:
    """remoteData.maxSizeInBytes (2 MiB by default): nothing is stored, the phase does not move."""
    admin = exec_server.admin
    wid = await seed_running(exec_server, "huge")
    limit = exec_server.deps.config.remoteData.maxSizeInBytes
    huge = literals_pb2.LiteralMap(literals={"o0": literals.str_("x" * (limit + 1))})
    before = await closures(exec_server, wid)
    for rpc, request in (
        ("CreateTaskEvent", task_event(wid, "n0", 0, TASK.SUCCEEDED, 7, output_data=huge)),
        ("CreateNodeEvent", node_event(wid, "n0", NODE.SUCCEEDED, 7, output_data=huge)),
        ("CreateWorkflowEvent", wf_event(wid, WF.SUCCEEDED, 7, output_data=huge)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(admin, rpc)(request)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, rpc
        assert "exceeds" in (caught.value.details() or "")
    assert await closures(exec_server, wid) == before
    stored = await exec_server.deps.blobs.list(exec_server.deps.blobs.uri("metadata", "flytesnacks", "development"))
    assert not [uri for uri in stored if "huge" in uri and uri.endswith("outputs.pb")]


async def test_terminal_refusal_carries_already_in_terminal_state(exec_server: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("term")
    await exec_server.seed_execution("term")
    await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 1))
    await admin.CreateWorkflowEvent(wf_event(wid, WF.FAILED, 2, error=core.ExecutionError(code="E", message="boom")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 3))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    reason = failure_reason(caught.value)
    assert reason.WhichOneof("reason") == "already_in_terminal_state"
    assert reason.already_in_terminal_state.current_phase == "FAILED"
    failed = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
    assert failed.closure.phase == WF.FAILED and failed.closure.error.message == "boom"


async def test_incompatible_cluster_and_invalid_moves(exec_server: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("clu")
    await exec_server.seed_execution("clu")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 1, producer="west"))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert failure_reason(caught.value).incompatible_cluster.cluster == CLUSTER

    await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 1))
    with pytest.raises(grpc.aio.AioRpcError) as back:
        await admin.CreateWorkflowEvent(wf_event(wid, WF.QUEUED, 2))
    assert back.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "RUNNING" in (back.value.details() or "") and "QUEUED" in (back.value.details() or "")


async def test_events_for_unknown_entities_are_not_found(exec_server: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("ghost")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateWorkflowEvent(wf_event(wid, WF.RUNNING, 1))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "ghost" in (caught.value.details() or "")
    await exec_server.seed_execution("real")
    real = exec_server.wid("real")
    with pytest.raises(grpc.aio.AioRpcError) as no_node:
        await admin.CreateTaskEvent(task_event(real, "n9", 0, TASK.RUNNING, 1))
    assert no_node.value.code() == grpc.StatusCode.NOT_FOUND
    assert "n9" in (no_node.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await admin.CreateNodeEvent(node_event(real, "", NODE.RUNNING, 1))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "node_id" in (bad.value.details() or "")


async def test_node_events_keep_parent_child_relations(exec_server: Any, literals: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("nodes")
    await exec_server.seed_execution("nodes")
    inputs = literals_pb2.LiteralMap(literals={"a": literals.int_(1)})
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.RUNNING, 1, input_data=inputs, spec_node_id="n0"))
    await admin.CreateNodeEvent(
        node_event(wid, "n0", NODE.SUCCEEDED, 3, output_data=outputs(7, literals), deck_uri="s3://b/deck.html")
    )
    await admin.CreateNodeEvent(node_event(wid, "n1", NODE.RUNNING, 2, is_parent=True, spec_node_id="n1"))
    child_meta = event_pb2.ParentNodeExecutionMetadata(node_id="n1")
    await admin.CreateNodeEvent(
        node_event(wid, "n1-0-n0", NODE.RUNNING, 2.5, parent_node_metadata=child_meta, spec_node_id="n0")
    )
    with pytest.raises(grpc.aio.AioRpcError) as orphan:
        await admin.CreateNodeEvent(
            node_event(
                wid, "x", NODE.RUNNING, 1, parent_node_metadata=event_pb2.ParentNodeExecutionMetadata(node_id="nope")
            )
        )
    assert orphan.value.code() == grpc.StatusCode.NOT_FOUND

    top = await admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=10)
    )
    assert [n.id.node_id for n in top.node_executions] == ["n0", "n1"]
    assert top.node_executions[1].metadata.is_parent_node
    children = await admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=10, unique_parent_id="n1")
    )
    assert [n.id.node_id for n in children.node_executions] == ["n1-0-n0"]
    assert children.node_executions[0].metadata.spec_node_id == "n0"

    n0 = await admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node_id(wid, "n0")))
    assert n0.closure.phase == NODE.SUCCEEDED and n0.closure.deck_uri == "s3://b/deck.html"
    assert n0.closure.duration.ToTimedelta() == timedelta(seconds=2)
    data = await admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=node_id(wid, "n0")))
    assert data.full_inputs.literals["a"].scalar.primitive.integer == 1
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 7

    filtered = await admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=10, filters="eq(phase,SUCCEEDED)")
    )
    assert [n.id.node_id for n in filtered.node_executions] == ["n0"]
    with pytest.raises(grpc.aio.AioRpcError) as bad_filter:
        await admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=10, filters="eq(colour,red)")
        )
    assert bad_filter.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "colour" in (bad_filter.value.details() or "")


async def test_task_events_keep_every_attempt(exec_server: Any, literals: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("tasks")
    await exec_server.seed_execution("tasks")
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.RUNNING, 1))
    log_a = core.TaskLog(name="pod", uri="http://logs/a")
    await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.RUNNING, 1, logs=[log_a], reason="scheduled"))
    await admin.CreateTaskEvent(
        task_event(wid, "n0", 0, TASK.RUNNING, 2, phase_version=1, logs=[core.TaskLog(name="dash", uri="http://d")])
    )
    with pytest.raises(grpc.aio.AioRpcError) as duplicate:
        await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.RUNNING, 2.5, phase_version=1))
    assert duplicate.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await admin.CreateTaskEvent(
        task_event(wid, "n0", 0, TASK.FAILED, 3, error=core.ExecutionError(code="OOM", message="killed"))
    )
    await admin.CreateTaskEvent(task_event(wid, "n0", 1, TASK.RUNNING, 4))
    await admin.CreateTaskEvent(task_event(wid, "n0", 1, TASK.SUCCEEDED, 6, output_data=outputs(5, literals)))

    listed = await admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, "n0"), limit=10)
    )
    assert [(t.id.retry_attempt, t.closure.phase) for t in listed.task_executions] == [
        (0, TASK.FAILED),
        (1, TASK.SUCCEEDED),
    ]
    first = listed.task_executions[0]
    assert [log.uri for log in first.closure.logs] == ["http://logs/a", "http://d"]
    assert first.closure.error.code == "OOM"
    assert first.closure.reasons[0].message == "scheduled"
    second = await admin.GetTaskExecution(task_execution_pb2.TaskExecutionGetRequest(id=listed.task_executions[1].id))
    assert second.closure.duration.ToTimedelta() == timedelta(seconds=2)
    data = await admin.GetTaskExecutionData(task_execution_pb2.TaskExecutionGetDataRequest(id=second.id))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 5

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateTaskEvent(task_event(wid, "n0", 1, TASK.RUNNING, 7))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert failure_reason(caught.value).already_in_terminal_state.current_phase == "SUCCEEDED"

    # A node launched by the task (array/dynamic children) is listed for the task execution.
    parent_task = event_pb2.ParentTaskExecutionMetadata(id=second.id)
    await admin.CreateNodeEvent(node_event(wid, "n0-0", NODE.RUNNING, 5, parent_task_metadata=parent_task))
    for_task = await admin.ListNodeExecutionsForTask(
        node_execution_pb2.NodeExecutionForTaskListRequest(task_execution_id=second.id, limit=10)
    )
    assert [n.id.node_id for n in for_task.node_executions] == ["n0-0"]
    parent = await admin.GetTaskExecution(task_execution_pb2.TaskExecutionGetRequest(id=second.id))
    assert parent.is_parent

    metrics = await admin.GetExecutionMetrics(execution_pb2.WorkflowExecutionGetMetricsRequest(id=wid, depth=5))
    assert metrics.span.workflow_id == wid
    node_spans = {s.node_id.node_id: s for s in metrics.span.spans}
    assert set(node_spans) == {"n0", "n0-0"}
    assert [s.task_id.retry_attempt for s in node_spans["n0"].spans] == [0, 1]
    assert node_spans["n0"].spans[1].end_time == at(6)


async def test_dynamic_node_workflow(exec_server: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("dyn")
    await exec_server.seed_execution("dyn")
    compiled = compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(
            template=core_wf.WorkflowTemplate(
                id=identifier_pb2.Identifier(resource_type=identifier_pb2.WORKFLOW, name="dyn.sub", version="v1")
            )
        )
    )
    dynamic = event_pb2.DynamicWorkflowNodeMetadata(compiled_workflow=compiled, dynamic_job_spec_uri="s3://b/f.pb")
    meta = event_pb2.TaskNodeMetadata(cache_status=catalog_pb2.CACHE_MISS, dynamic_workflow=dynamic)
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.DYNAMIC_RUNNING, 1, task_node_metadata=meta))
    got = await admin.GetDynamicNodeWorkflow(node_execution_pb2.GetDynamicNodeWorkflowRequest(id=node_id(wid, "n0")))
    assert got.compiled_workflow.primary.template.id.name == "dyn.sub"
    node = await admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node_id(wid, "n0")))
    assert node.metadata.is_dynamic and node.closure.dynamic_job_spec_uri == "s3://b/f.pb"
    assert node.closure.task_node_metadata.cache_status == catalog_pb2.CACHE_MISS

    await admin.CreateNodeEvent(node_event(wid, "plain", NODE.RUNNING, 1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.GetDynamicNodeWorkflow(node_execution_pb2.GetDynamicNodeWorkflowRequest(id=node_id(wid, "plain")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_every_failed_attempt_keeps_its_error(exec_server: Any) -> None:
    """A retryable failure (RETRYABLE_FAILED, as our propeller and Flyte's connectors report it) keeps the error the
    task raised in that attempt's closure, like the final FAILED attempt."""
    admin = exec_server.admin
    wid = await seed_running(exec_server, "retried")
    first = core.ExecutionError(code="USER:ValueError", message="bad row 7", kind=core.ExecutionError.USER)
    last = core.ExecutionError(code="USER:ValueError", message="bad row 9", kind=core.ExecutionError.USER)
    await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.RETRYABLE_FAILED, 4, phase_version=3, error=first))
    await admin.CreateTaskEvent(task_event(wid, "n0", 1, TASK.RUNNING, 5))
    await admin.CreateTaskEvent(task_event(wid, "n0", 1, TASK.FAILED, 6, error=last))
    listed = await admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, "n0"), limit=10)
    )
    by_attempt = {t.id.retry_attempt: t.closure for t in listed.task_executions}
    assert by_attempt[0].phase == TASK.RETRYABLE_FAILED and by_attempt[0].error == first
    assert by_attempt[1].phase == TASK.FAILED and by_attempt[1].error == last
    assert by_attempt[0].duration.ToTimedelta() == timedelta(seconds=1)


def sub_task(index: int, attempt: int, phase: int, error: str = "") -> event_pb2.ExternalResourceInfo:
    resource = event_pb2.ExternalResourceInfo(
        external_id=f"ex-n0-{index}-{attempt}", index=index, retry_attempt=attempt, phase=phase
    )
    resource.logs.add(name=f"log-{index}-{attempt}", uri=f"file:///logs/{index}/{attempt}")
    if error:
        resource.custom_info.update({"error": {"code": "USER:ValueError", "message": error, "kind": "USER"}})
    return resource


def array_event(wid: Any, phase: int, t: float, version: int, *resources: Any, **kw: Any) -> Any:
    metadata = event_pb2.TaskExecutionMetadata(plugin_identifier="k8s-array", external_resources=list(resources))
    return task_event(wid, "n0", 0, phase, t, phase_version=version, metadata=metadata, **kw)


async def test_every_failed_array_sub_task_attempt_keeps_its_error(exec_server: Any) -> None:
    """An array node's sub-tasks are ExternalResourceInfo entries keyed by (index, retry_attempt); the pinned
    flyteidl gives them no error field, so Flyte exposes a sub-task's failure as the entry's phase (+ custom_info)
    and the array attempt's error as the summary of the failed indexes. Flyte's propeller reports only the newest
    attempt of an index in later events: admin merges (flyteadmin's mergeExternalResources), so the retried
    attempt's RETRYABLE_FAILED entry, its logs and its error are still there when the array fails."""
    admin = exec_server.admin
    wid = await seed_running(exec_server, "array-errors")
    s = TASK
    await admin.CreateTaskEvent(array_event(wid, s.RUNNING, 4, 3, sub_task(0, 0, s.RUNNING), sub_task(1, 0, s.RUNNING)))
    await admin.CreateTaskEvent(
        array_event(wid, s.RUNNING, 5, 4, sub_task(0, 0, s.SUCCEEDED), sub_task(1, 0, s.RETRYABLE_FAILED, "bad 7"))
    )
    await admin.CreateTaskEvent(array_event(wid, s.RUNNING, 6, 5, sub_task(1, 1, s.RUNNING)))
    summary = core.ExecutionError(code="ArrayNodeFailed", message="[1]: bad 9\n", kind=core.ExecutionError.USER)
    await admin.CreateTaskEvent(
        array_event(wid, s.FAILED, 7, 6, sub_task(0, 0, s.SUCCEEDED), sub_task(1, 1, s.FAILED, "bad 9"), error=summary)
    )
    listed = await admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, "n0"), limit=10)
    )
    assert len(listed.task_executions) == 1
    closure = listed.task_executions[0].closure
    assert closure.phase == s.FAILED and closure.error == summary
    held = [
        (r.index, r.retry_attempt, r.phase, r.custom_info["error"]["message"] if "error" in r.custom_info else None)
        for r in closure.metadata.external_resources
    ]
    assert held == [(0, 0, s.SUCCEEDED, None), (1, 0, s.RETRYABLE_FAILED, "bad 7"), (1, 1, s.FAILED, "bad 9")]
    assert [log.name for log in closure.metadata.external_resources[1].logs] == ["log-1-0"]
    fetched = await admin.GetTaskExecution(task_execution_pb2.TaskExecutionGetRequest(id=listed.task_executions[0].id))
    assert fetched.closure.metadata == closure.metadata


async def test_listing_a_nodes_attempts_answers_not_found_before_anything_else(exec_server: Any) -> None:
    """ListTaskExecutions looks the node up only when its page is empty or refused; the answers stay: NOT_FOUND
    for an unknown node (even with a bad filter), INVALID_ARGUMENT for a bad filter on a known node, an empty
    list for a node without attempts."""
    admin, wid = exec_server.admin, exec_server.wid("lists")
    await exec_server.seed_execution("lists")
    await admin.CreateNodeEvent(node_event(wid, "n0", NODE.RUNNING, 1))

    def listing(node: str, filters: str = "") -> Any:
        return admin.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, node), limit=10, filters=filters)
        )

    assert list((await listing("n0")).task_executions) == []
    for filters in ("", "eq(nonsense,1)"):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await listing("absent", filters)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await listing("n0", "eq(nonsense,1)")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await admin.CreateTaskEvent(task_event(wid, "n0", 0, TASK.RUNNING, 2))
    assert [t.id.retry_attempt for t in (await listing("n0")).task_executions] == [0]


async def test_plain_listings_page_as_filtered_ones_do(exec_server: Any) -> None:
    """Listings without filters or sort key run statements built once (paged by bound values): their pages, tokens
    and refusals match the per-call statements a filter selects (here one every row passes)."""
    admin, wid = exec_server.admin, exec_server.wid("pages")
    await exec_server.seed_execution("pages")
    for index in range(3):
        await admin.CreateNodeEvent(node_event(wid, f"n{index}", NODE.RUNNING, 1 + index))
    for attempt in (0, 1, 2):
        await admin.CreateTaskEvent(task_event(wid, "n0", attempt, TASK.RUNNING, 5 + attempt))

    async def pages(list_call: Any, request: Any, ids: Any) -> list[tuple[list[Any], str]]:
        seen, token = [], ""
        while True:
            request.token = token
            answer = await list_call(request)
            token = answer.token
            seen.append((ids(answer), token))
            if not token:
                return seen

    def nodes(answer: Any) -> list[str]:
        return [n.id.node_id for n in answer.node_executions]

    def attempts(answer: Any) -> list[int]:
        return [t.id.retry_attempt for t in answer.task_executions]

    for filters in ("", "gte(retry_attempt,0)"):
        request = task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id(wid, "n0"), limit=2)
        request.filters = filters
        assert await pages(admin.ListTaskExecutions, request, attempts) == [([0, 1], "2"), ([2], "")]
    for filters in ("", "ne(phase,UNDEFINED)"):
        request = node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=2, filters=filters)
        assert await pages(admin.ListNodeExecutions, request, nodes) == [(["n0", "n1"], "2"), (["n2"], "")]
    for limit, token in ((0, ""), (2, "x"), (2, "-1")):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.ListTaskExecutions(
                task_execution_pb2.TaskExecutionListRequest(
                    node_execution_id=node_id(wid, "n0"), limit=limit, token=token
                )
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
