"""CreateExecution / Get / List / Update / GetExecutionData over real gRPC against a fake data plane
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, execution_pb2, project_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.event import event_pb2

from aloft_admin.managers.execution_data import ExecutionData

PROJECT, DOMAIN = "flytesnacks", "development"
WF = core.WorkflowExecution
MODE = execution_pb2.ExecutionMetadata.ExecutionMode


def create_request(lp_id: Any, name: str = "", **inputs: Any) -> execution_pb2.ExecutionCreateRequest:
    return execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
        inputs=literals_pb2.LiteralMap(literals=inputs),
    )


async def expect_error(call: Any, code: grpc.StatusCode, *words: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    for word in words:
        assert word in (caught.value.details() or ""), caught.value.details()


async def test_create_hands_off_and_reads_back(exec_server: Any, literals: Any) -> None:
    admin, deps, fake = exec_server.admin, exec_server.deps, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()
    created = await admin.CreateExecution(create_request(lp_id, "run1", a=literals.int_(3)))
    assert created.id.name == "run1"

    got = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert got.closure.phase == WF.QUEUED
    assert got.spec.metadata.mode == MODE.MANUAL
    assert got.spec.launch_plan == lp_id
    assert got.spec.max_parallelism == 25
    assert got.closure.workflow_id.name == "wf"
    assert got.closure.state_change_details.state == execution_pb2.ExecutionState.EXECUTION_ACTIVE

    [sent] = fake.created
    assert sent.id == created.id and sent.cluster == "east"
    assert sent.launch_plan_id == lp_id and sent.workflow_id.name == "wf"
    assert sent.config.max_parallelism == 25
    assert (sent.config.task_resource_defaults.cpu, sent.config.task_resource_defaults.memory) == ("500m", "1Gi")
    assert sent.config.raw_output_prefix.startswith(deps.blobs.base_uri)
    closure = await deps.blobs.read_proto(sent.closure_uri, compiler_pb2.CompiledWorkflowClosure)
    assert closure.primary.template.id.name == "wf"
    inputs = await deps.blobs.read_proto(sent.inputs_uri, literals_pb2.LiteralMap)
    assert inputs.literals["a"].scalar.primitive.integer == 3
    assert inputs.literals["b"].scalar.primitive.string_value == "hello"  # launch-plan default filled

    data = await admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=created.id))
    assert data.full_inputs == inputs and data.inputs.url


async def test_generated_names_and_duplicates(exec_server: Any, literals: Any) -> None:
    admin = exec_server.admin
    lp_id = await exec_server.register_launch_plan()
    generated = await admin.CreateExecution(create_request(lp_id, a=literals.int_(1)))
    assert generated.id.name.startswith("a") and len(generated.id.name) == 20
    await admin.CreateExecution(create_request(lp_id, "same", a=literals.int_(1)))
    await expect_error(
        admin.CreateExecution(create_request(lp_id, "same", a=literals.int_(2))), grpc.StatusCode.ALREADY_EXISTS
    )
    # The refused duplicate left the original's stored inputs alone.
    data = await admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_server.wid("same")))
    assert data.full_inputs.literals["a"].scalar.primitive.integer == 1
    # Each attempt writes its inputs under a key of its own before the INSERT; the refused one's are removed.
    async with exec_server.deps.repos.transaction() as tx:
        row = await tx.executions.get(exec_server.wid("same"))
    assert row is not None
    kept = {Path(exec_server.deps.blobs.path(uri)) for uri in (row.inputs_uri, row.user_inputs_uri)}
    assert len(kept) == 2  # the launch plan's default makes the inputs differ from the user's
    [inputs_dir] = {path.parent for path in kept}
    assert set(inputs_dir.glob("same.*")) == kept


async def test_bad_requests_name_the_problem_and_write_nothing(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan(fixed={"c": 9})
    bad = grpc.StatusCode.INVALID_ARGUMENT
    await expect_error(admin.CreateExecution(create_request(lp_id, "x1")), bad, "a")
    await expect_error(admin.CreateExecution(create_request(lp_id, "x2", a=literals.str_("three"))), bad, "a")
    await expect_error(
        admin.CreateExecution(create_request(lp_id, "x3", a=literals.int_(1), zzz=literals.int_(1))), bad, "zzz"
    )
    await expect_error(
        admin.CreateExecution(create_request(lp_id, "x4", a=literals.int_(1), c=literals.int_(1))), bad, "c"
    )
    await expect_error(admin.CreateExecution(create_request(lp_id, "Bad_Name", a=literals.int_(1))), bad, "Bad_Name")
    missing_lp = identifier_pb2.Identifier()
    missing_lp.CopyFrom(lp_id)
    missing_lp.name = "nope"
    await expect_error(
        admin.CreateExecution(create_request(missing_lp, "x5", a=literals.int_(1))), grpc.StatusCode.NOT_FOUND, "nope"
    )
    other_project = create_request(lp_id, "x6", a=literals.int_(1))
    other_project.project = "unknownproject"
    await expect_error(admin.CreateExecution(other_project), bad, "unknownproject")
    await expect_error(
        admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_server.wid("x1"))),
        grpc.StatusCode.NOT_FOUND,
        "x1",
    )
    listed = await admin.ListExecutions(
        common_pb2.ResourceListRequest(id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=10)
    )
    assert list(listed.executions) == [] and fake.created == []

    ok = await admin.CreateExecution(create_request(lp_id, "fixed", a=literals.int_(1)))
    data = await admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ok.id))
    assert data.full_inputs.literals["c"].scalar.primitive.integer == 9


async def test_list_filters_archive_and_pages(exec_server: Any, literals: Any) -> None:
    admin = exec_server.admin
    lp_id = await exec_server.register_launch_plan()
    for name in ("l1", "l2", "l3"):
        await admin.CreateExecution(create_request(lp_id, name, a=literals.int_(1)))
    scope = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)

    async def names(**kw: Any) -> list[str]:
        reply = await admin.ListExecutions(common_pb2.ResourceListRequest(id=scope, **kw))
        return [e.id.name for e in reply.executions]

    assert await names(limit=10) == ["l3", "l2", "l1"]
    first = await admin.ListExecutions(common_pb2.ResourceListRequest(id=scope, limit=2))
    assert [e.id.name for e in first.executions] == ["l3", "l2"] and first.token == "2"
    assert await names(limit=2, token=first.token) == ["l1"]
    assert await names(limit=10, filters="eq(execution.phase,QUEUED)+eq(launch_plan.name,wf)") == ["l3", "l2", "l1"]
    assert await names(limit=10, filters="eq(phase,RUNNING)") == []
    sort = common_pb2.Sort(key="name", direction=common_pb2.Sort.ASCENDING)
    assert await names(limit=10, sort_by=sort) == ["l1", "l2", "l3"]

    await admin.UpdateExecution(
        execution_pb2.ExecutionUpdateRequest(id=exec_server.wid("l2"), state=execution_pb2.EXECUTION_ARCHIVED)
    )
    assert await names(limit=10) == ["l3", "l1"]
    assert await names(limit=10, filters="eq(state,EXECUTION_ARCHIVED)") == ["l2"]
    archived = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_server.wid("l2")))
    assert archived.closure.state_change_details.state == execution_pb2.EXECUTION_ARCHIVED

    await expect_error(
        admin.ListExecutions(common_pb2.ResourceListRequest(id=scope, limit=10, filters="eq(colour,red)")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "colour",
    )
    await expect_error(
        admin.ListExecutions(common_pb2.ResourceListRequest(id=scope, limit=10, filters="eq(phase,SIDEWAYS)")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SIDEWAYS",
    )
    await expect_error(
        admin.ListExecutions(common_pb2.ResourceListRequest(id=scope, limit=0)), grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_child_execution_of_a_launch_plan_node(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()
    parent = (await admin.CreateExecution(create_request(lp_id, "parent", a=literals.int_(1)))).id
    parent_node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=parent)
    occurred = datetime.now(UTC)
    node_event = event_pb2.NodeExecutionEvent(id=parent_node, phase=core.NodeExecution.RUNNING, producer_id="east")
    node_event.occurred_at.FromDatetime(occurred)
    await admin.CreateNodeEvent(admin_event_pb2.NodeExecutionEventRequest(event=node_event))

    child = create_request(lp_id, "child", a=literals.int_(2))
    child.spec.metadata.parent_node_execution.CopyFrom(parent_node)
    await admin.CreateExecution(child)
    got = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_server.wid("child")))
    assert got.spec.metadata.mode == MODE.CHILD_WORKFLOW
    assert got.spec.metadata.nesting == 1
    assert got.spec.metadata.parent_node_execution == parent_node
    assert fake.created[-1].parent_node_execution == parent_node

    orphan = create_request(lp_id, "orphan", a=literals.int_(2))
    orphan.spec.metadata.parent_node_execution.CopyFrom(
        identifier_pb2.NodeExecutionIdentifier(node_id="n404", execution_id=parent)
    )
    await expect_error(admin.CreateExecution(orphan), grpc.StatusCode.NOT_FOUND, "n404")


async def test_malformed_identifiers_name_the_field(exec_server: Any) -> None:
    admin = exec_server.admin
    bad = grpc.StatusCode.INVALID_ARGUMENT
    no_name = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN)
    await expect_error(admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=no_name)), bad, "id.name")
    no_project = identifier_pb2.WorkflowExecutionIdentifier(domain=DOMAIN, name="x")
    await expect_error(
        admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=no_project)), bad, "id.project"
    )
    await expect_error(
        admin.ListExecutions(common_pb2.ResourceListRequest(id=common_pb2.NamedEntityIdentifier(project=PROJECT))),
        bad,
        "id.domain",
    )
    await expect_error(admin.CreateExecution(execution_pb2.ExecutionCreateRequest(project=PROJECT)), bad, "domain")


async def test_execution_data_inlines_only_small_maps(exec_server: Any, literals: Any) -> None:
    deps = exec_server.deps
    uri = deps.blobs.uri("metadata", "sizes", "map.pb")
    literal_map = literals_pb2.LiteralMap(literals={"s": literals.str_("x" * 500)})
    await deps.blobs.write_proto(uri, literal_map)
    blob, full = await ExecutionData(deps.blobs, deps.config.admin).literal_map(uri)
    assert blob.url and blob.bytes == literal_map.ByteSize() and full == literal_map

    small = deps.config.model_copy(update={"admin": deps.config.admin.model_copy(update={"maxInlineDataBytes": 100})})
    blob, full = await ExecutionData(deps.blobs, small.admin).literal_map(uri)
    assert blob.url and blob.bytes > 100 and full == literals_pb2.LiteralMap()

    blob, full = await ExecutionData(deps.blobs, deps.config.admin).literal_map(
        deps.blobs.uri("metadata", "sizes", "missing.pb")
    )
    assert not blob.url and full == literals_pb2.LiteralMap()


async def test_a_project_archived_through_this_admin_refuses_the_next_execution(
    exec_server: Any, literals: Any
) -> None:
    """Active projects are cached (admin.settingsCacheTtl); this admin's UpdateProject clears the cache."""
    admin = exec_server.admin
    lp_id = await exec_server.register_launch_plan()
    await admin.CreateExecution(create_request(lp_id, "before", a=literals.int_(1)))
    project = project_pb2.Project(id=lp_id.project, name=lp_id.project, state=project_pb2.Project.ARCHIVED)
    await admin.UpdateProject(project)
    await expect_error(
        admin.CreateExecution(create_request(lp_id, "archived", a=literals.int_(1))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "not active",
    )
    project.state = project_pb2.Project.ACTIVE
    await admin.UpdateProject(project)
    await admin.CreateExecution(create_request(lp_id, "after", a=literals.int_(1)))
