"""CreateWorkflow (compile + store), GetWorkflow, ListWorkflows, ListWorkflowIds over real gRPC."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, workflow_pb2
from flyteidl.core import identifier_pb2
from grpc_status import rpc_status


async def expect_error(call: Any, code: grpc.StatusCode, *fragments: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    for fragment in fragments:
        assert fragment in (err.value.details() or ""), err.value.details()
    return err.value


def failure_reason(error: grpc.aio.AioRpcError) -> workflow_pb2.CreateWorkflowFailureReason:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None and len(status.details) == 1
    reason = workflow_pb2.CreateWorkflowFailureReason()
    assert status.details[0].Unpack(reason)
    return reason


async def register_square(admin_stub: Any, entities: Any) -> identifier_pb2.Identifier:
    request = entities.task_request("tasks.square")
    await admin_stub.CreateTask(request)
    return request.id


async def test_workflow_with_subworkflow_compiles_and_round_trips(admin_stub: Any, entities: Any) -> None:
    task = await register_square(admin_stub, entities)
    sub = entities.simple_workflow("wf.sub", task).spec.template
    parent_id = entities.workflow_id("wf.parent")
    node = entities.subworkflow_node("n0", sub.id, {"x": entities.promise("start-node", "y")})
    parent = entities.workflow_template(
        parent_id, [node], {"y": entities.INT}, {"out": (entities.INT, entities.promise("n0", "o0"))}
    )
    request = workflow_pb2.WorkflowCreateRequest(
        id=parent_id, spec=workflow_pb2.WorkflowSpec(template=parent, sub_workflows=[sub])
    )
    request.spec.description.short_description = "parent workflow"
    await admin_stub.CreateWorkflow(request)

    got = await admin_stub.GetWorkflow(common_pb2.ObjectGetRequest(id=parent_id))
    compiled = got.closure.compiled_workflow
    assert compiled.primary.template.id == parent_id
    assert {n.id for n in compiled.primary.template.nodes} >= {"n0"}
    assert "n0" in compiled.primary.connections.downstream["start-node"].ids
    assert [s.template.id.name for s in compiled.sub_workflows] == ["wf.sub"]
    assert [t.template.id for t in compiled.tasks] == [task]
    assert got.short_description == "parent workflow"

    error = await expect_error(admin_stub.CreateWorkflow(request), grpc.StatusCode.ALREADY_EXISTS, "identical")
    assert failure_reason(error).exists_identical_structure.id == parent_id

    changed = workflow_pb2.WorkflowCreateRequest()
    changed.CopyFrom(request)
    changed.spec.template.nodes[0].metadata.name = "renamed"
    error = await expect_error(
        admin_stub.CreateWorkflow(changed), grpc.StatusCode.INVALID_ARGUMENT, "different structure", "renamed"
    )
    assert failure_reason(error).exists_different_structure.id == parent_id

    # A registered sub-workflow can be referenced without shipping it again in sub_workflows.
    await admin_stub.CreateWorkflow(entities.simple_workflow("wf.sub", task))
    reuse_id = entities.workflow_id("wf.reuse")
    reuse = entities.workflow_template(
        reuse_id, [node], {"y": entities.INT}, {"out": (entities.INT, entities.promise("n0", "o0"))}
    )
    await admin_stub.CreateWorkflow(
        workflow_pb2.WorkflowCreateRequest(id=reuse_id, spec=workflow_pb2.WorkflowSpec(template=reuse))
    )
    reused = await admin_stub.GetWorkflow(common_pb2.ObjectGetRequest(id=reuse_id))
    assert [s.template.id.name for s in reused.closure.compiled_workflow.sub_workflows] == ["wf.sub"]


async def test_compile_errors_name_node_and_variable(admin_stub: Any, entities: Any) -> None:
    task = await register_square(admin_stub, entities)
    promise = entities.promise

    mismatch_id = entities.workflow_id("wf.mismatch")
    node = entities.task_node("n0", task, {"a": promise("start-node", "x")})
    template = entities.workflow_template(
        mismatch_id, [node], {"x": entities.STR}, {"o": (entities.INT, promise("n0", "o0"))}
    )
    await expect_error(
        admin_stub.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=mismatch_id, spec=workflow_pb2.WorkflowSpec(template=template))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "n0",
        "MismatchingTypes",
        "a",
    )

    cycle_id = entities.workflow_id("wf.cycle")
    # start -> n0 -> n1 -> n2 -> n1: reachable from the start node, with a cycle between n1 and n2.
    first = entities.task_node("n0", task, {"a": promise("start-node", "x")})
    second = entities.task_node("n1", task, {"a": promise("n0", "o0")})
    third = entities.task_node("n2", task, {"a": promise("n1", "o0")})
    second.upstream_node_ids.extend(["n0", "n2"])
    third.upstream_node_ids.append("n1")
    template = entities.workflow_template(
        cycle_id, [first, second, third], {"x": entities.INT}, {"o": (entities.INT, promise("n1", "o0"))}
    )
    await expect_error(
        admin_stub.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=cycle_id, spec=workflow_pb2.WorkflowSpec(template=template))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CycleDetected",
        "n1>n2>n1",
    )

    unbound_id = entities.workflow_id("wf.unbound")
    node = entities.task_node("n0", task, {})
    template = entities.workflow_template(
        unbound_id, [node], {"x": entities.INT}, {"o": (entities.INT, promise("n0", "o0"))}
    )
    await expect_error(
        admin_stub.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=unbound_id, spec=workflow_pb2.WorkflowSpec(template=template))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ParameterNotBound",
        "n0",
        "a",
    )

    missing_task_id = entities.workflow_id("wf.missing")
    node = entities.task_node("n7", entities.task_id("tasks.unknown"), {"a": promise("start-node", "x")})
    template = entities.workflow_template(
        missing_task_id, [node], {"x": entities.INT}, {"o": (entities.INT, promise("n7", "o0"))}
    )
    await expect_error(
        admin_stub.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=missing_task_id, spec=workflow_pb2.WorkflowSpec(template=template))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "n7",
        "tasks.unknown",
    )
    bad_output_id = entities.workflow_id("wf.badoutput")
    node = entities.task_node("n0", task, {"a": promise("start-node", "x")})
    template = entities.workflow_template(
        bad_output_id, [node], {"x": entities.INT}, {"o": (entities.INT, promise("n0", "nope"))}
    )
    await expect_error(
        admin_stub.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=bad_output_id, spec=workflow_pb2.WorkflowSpec(template=template))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "n0",
        "nope",
    )

    # Nothing was stored for any failed registration.
    ids = await admin_stub.ListWorkflowIds(
        common_pb2.NamedEntityIdentifierListRequest(project=entities.project, domain=entities.domain, limit=10)
    )
    assert list(ids.entities) == []


async def test_list_workflows_and_lookup_errors(admin_stub: Any, entities: Any) -> None:
    task = await register_square(admin_stub, entities)
    for name, version in [("wf.a", "v1"), ("wf.a", "v2"), ("wf.b", "v1")]:
        await admin_stub.CreateWorkflow(entities.simple_workflow(name, task, version))
    scope = common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain)
    listed = await admin_stub.ListWorkflows(
        common_pb2.ResourceListRequest(
            id=scope,
            limit=2,
            filters="value_in(workflow.name,wf.a;wf.b)",
            sort_by=common_pb2.Sort(key="name", direction=common_pb2.Sort.DESCENDING),
        )
    )
    assert [w.id.name for w in listed.workflows] == ["wf.b", "wf.a"] and listed.token == "2"
    assert not listed.workflows[0].closure.HasField("compiled_workflow")
    ids = await admin_stub.ListWorkflowIds(
        common_pb2.NamedEntityIdentifierListRequest(project=entities.project, domain=entities.domain, limit=1)
    )
    assert [e.name for e in ids.entities] == ["wf.a"] and ids.token == "1"
    await expect_error(
        admin_stub.GetWorkflow(common_pb2.ObjectGetRequest(id=entities.workflow_id("wf.zzz"))),
        grpc.StatusCode.NOT_FOUND,
        "wf.zzz",
    )
    no_version = entities.workflow_id("wf.a", "")
    await expect_error(
        admin_stub.GetWorkflow(common_pb2.ObjectGetRequest(id=no_version)), grpc.StatusCode.INVALID_ARGUMENT, "version"
    )
    unknown_project = entities.simple_workflow("wf.c", task)
    unknown_project.id.project = "elsewhere"
    await expect_error(admin_stub.CreateWorkflow(unknown_project), grpc.StatusCode.INVALID_ARGUMENT, "elsewhere")
