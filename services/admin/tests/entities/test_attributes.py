"""Matchable attributes over real gRPC, and resolve_attributes precedence, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_attributes_pb2 as pa
from flyteidl.admin import project_domain_attributes_pb2 as pda
from flyteidl.admin import workflow_attributes_pb2 as wa

from aloft_admin.managers.attributes import AttributeResolver
from aloft_admin.repositories.models.entities import MatchableAttributeRow
from aloft_admin.repositories.sql.attributes import Scope


def queue(name: str) -> mr.MatchingAttributes:
    return mr.MatchingAttributes(execution_queue_attributes=mr.ExecutionQueueAttributes(tags=[name]))


async def expect_error(call: Any, code: grpc.StatusCode, fragment: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    assert fragment in (err.value.details() or ""), err.value.details()


async def test_update_get_delete_each_scope(admin_stub: Any) -> None:
    P, D, Q = "flytesnacks", "development", mr.EXECUTION_QUEUE
    await admin_stub.UpdateProjectAttributes(
        pa.ProjectAttributesUpdateRequest(attributes=pa.ProjectAttributes(project=P, matching_attributes=queue("p")))
    )
    await admin_stub.UpdateProjectDomainAttributes(
        pda.ProjectDomainAttributesUpdateRequest(
            attributes=pda.ProjectDomainAttributes(project=P, domain=D, matching_attributes=queue("pd"))
        )
    )
    await admin_stub.UpdateWorkflowAttributes(
        wa.WorkflowAttributesUpdateRequest(
            attributes=wa.WorkflowAttributes(project=P, domain=D, workflow="wf", matching_attributes=queue("wf"))
        )
    )
    # Updating again replaces the value.
    await admin_stub.UpdateWorkflowAttributes(
        wa.WorkflowAttributesUpdateRequest(
            attributes=wa.WorkflowAttributes(project=P, domain=D, workflow="wf", matching_attributes=queue("wf2"))
        )
    )
    got_p = await admin_stub.GetProjectAttributes(pa.ProjectAttributesGetRequest(project=P, resource_type=Q))
    got_pd = await admin_stub.GetProjectDomainAttributes(
        pda.ProjectDomainAttributesGetRequest(project=P, domain=D, resource_type=Q)
    )
    got_wf = await admin_stub.GetWorkflowAttributes(
        wa.WorkflowAttributesGetRequest(project=P, domain=D, workflow="wf", resource_type=Q)
    )
    assert list(got_p.attributes.matching_attributes.execution_queue_attributes.tags) == ["p"]
    assert list(got_pd.attributes.matching_attributes.execution_queue_attributes.tags) == ["pd"]
    assert list(got_wf.attributes.matching_attributes.execution_queue_attributes.tags) == ["wf2"]
    assert got_wf.attributes.workflow == "wf"

    listed = await admin_stub.ListMatchableAttributes(mr.ListMatchableAttributesRequest(resource_type=Q))
    scopes = {(c.project, c.domain, c.workflow) for c in listed.configurations}
    assert scopes == {(P, "", ""), (P, D, ""), (P, D, "wf")}
    other = await admin_stub.ListMatchableAttributes(mr.ListMatchableAttributesRequest(resource_type=mr.TASK_RESOURCE))
    assert list(other.configurations) == []

    await admin_stub.DeleteWorkflowAttributes(
        wa.WorkflowAttributesDeleteRequest(project=P, domain=D, workflow="wf", resource_type=Q)
    )
    await admin_stub.DeleteProjectDomainAttributes(
        pda.ProjectDomainAttributesDeleteRequest(project=P, domain=D, resource_type=Q)
    )
    await admin_stub.DeleteProjectAttributes(pa.ProjectAttributesDeleteRequest(project=P, resource_type=Q))
    await expect_error(
        admin_stub.GetWorkflowAttributes(
            wa.WorkflowAttributesGetRequest(project=P, domain=D, workflow="wf", resource_type=Q)
        ),
        grpc.StatusCode.NOT_FOUND,
        "EXECUTION_QUEUE",
    )
    await expect_error(
        admin_stub.DeleteProjectAttributes(pa.ProjectAttributesDeleteRequest(project=P, resource_type=Q)),
        grpc.StatusCode.NOT_FOUND,
        "flytesnacks",
    )


async def test_every_resource_kind_round_trips(admin_stub: Any) -> None:
    kinds = {
        mr.TASK_RESOURCE: mr.MatchingAttributes(
            task_resource_attributes=mr.TaskResourceAttributes(defaults=mr.TaskResourceSpec(cpu="1"))
        ),
        mr.CLUSTER_RESOURCE: mr.MatchingAttributes(
            cluster_resource_attributes=mr.ClusterResourceAttributes(attributes={"quota": "5"})
        ),
        mr.EXECUTION_QUEUE: queue("q"),
        mr.EXECUTION_CLUSTER_LABEL: mr.MatchingAttributes(
            execution_cluster_label=mr.ExecutionClusterLabel(value="gpu")
        ),
        mr.QUALITY_OF_SERVICE_SPECIFICATION: mr.MatchingAttributes(quality_of_service={"tier": 1}),
        mr.PLUGIN_OVERRIDE: mr.MatchingAttributes(
            plugin_overrides=mr.PluginOverrides(overrides=[mr.PluginOverride(task_type="python-task", plugin_id=["x"])])
        ),
        mr.WORKFLOW_EXECUTION_CONFIG: mr.MatchingAttributes(
            workflow_execution_config=mr.WorkflowExecutionConfig(max_parallelism=7)
        ),
        mr.CLUSTER_ASSIGNMENT: mr.MatchingAttributes(cluster_assignment={"cluster_pool_name": "pool"}),
    }
    for resource, attributes in kinds.items():
        await admin_stub.UpdateProjectDomainAttributes(
            pda.ProjectDomainAttributesUpdateRequest(
                attributes=pda.ProjectDomainAttributes(
                    project="flytesnacks", domain="staging", matching_attributes=attributes
                )
            )
        )
        got = await admin_stub.GetProjectDomainAttributes(
            pda.ProjectDomainAttributesGetRequest(project="flytesnacks", domain="staging", resource_type=resource)
        )
        assert got.attributes.matching_attributes == attributes


async def test_bad_attribute_requests(admin_stub: Any) -> None:
    await expect_error(
        admin_stub.UpdateProjectAttributes(pa.ProjectAttributesUpdateRequest()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "missing attributes",
    )
    await expect_error(
        admin_stub.UpdateProjectAttributes(
            pa.ProjectAttributesUpdateRequest(attributes=pa.ProjectAttributes(project="flytesnacks"))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "matching_attributes",
    )
    await expect_error(
        admin_stub.UpdateProjectAttributes(
            pa.ProjectAttributesUpdateRequest(
                attributes=pa.ProjectAttributes(project="ghost", matching_attributes=queue("q"))
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ghost",
    )
    await expect_error(
        admin_stub.UpdateProjectDomainAttributes(
            pda.ProjectDomainAttributesUpdateRequest(
                attributes=pda.ProjectDomainAttributes(
                    project="flytesnacks", domain="qa", matching_attributes=queue("q")
                )
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "domain [qa]",
    )
    await expect_error(
        admin_stub.UpdateWorkflowAttributes(
            wa.WorkflowAttributesUpdateRequest(
                attributes=wa.WorkflowAttributes(
                    project="flytesnacks", domain="development", matching_attributes=queue("q")
                )
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "missing workflow",
    )
    await expect_error(
        admin_stub.GetProjectAttributes(pa.ProjectAttributesGetRequest(project="flytesnacks", resource_type=42)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "resource_type",
    )


async def test_resolve_precedence_and_config_defaults(admin_server: Any) -> None:
    deps = admin_server.deps
    resolve_attributes = AttributeResolver(deps.config.task_resources).resolve
    P, D = "flytesnacks", "development"
    async with deps.repos.transaction() as tx:
        defaults = await resolve_attributes(tx, P, D, "wf", "lp", resource=mr.TASK_RESOURCE)
        assert defaults is not None
        assert defaults.task_resource_attributes.defaults.cpu == deps.config.task_resources.defaults.cpu
        assert await resolve_attributes(tx, P, D, resource=mr.EXECUTION_QUEUE) is None

    levels = [
        Scope(domain=D),
        Scope(project=P),
        Scope(project=P, domain=D),
        Scope(project=P, domain=D, workflow="wf"),
        Scope(project=P, domain=D, workflow="wf", launch_plan="lp"),
    ]
    now = deps.clock()
    for index, scope in enumerate(levels):
        async with deps.repos.transaction() as tx:
            tx.attributes.add(
                MatchableAttributeRow(
                    org="",
                    project=scope.project,
                    domain=scope.domain,
                    workflow=scope.workflow,
                    launch_plan=scope.launch_plan,
                    resource_type="EXECUTION_QUEUE",
                    priority=scope.priority,
                    attributes=queue(f"level{index}").SerializeToString(),
                    created_at=now,
                    updated_at=now,
                )
            )
        async with deps.repos.transaction() as tx:
            resolved = await resolve_attributes(tx, P, D, "wf", "lp", resource=mr.EXECUTION_QUEUE)
            assert resolved is not None
            # Each more specific level added overrides everything before it.
            assert list(resolved.execution_queue_attributes.tags) == [f"level{index}"]
    async with deps.repos.transaction() as tx:
        other_wf = await resolve_attributes(tx, P, D, "other", resource=mr.EXECUTION_QUEUE)
        other_domain = await resolve_attributes(tx, P, "staging", resource=mr.EXECUTION_QUEUE)
        other_project = await resolve_attributes(tx, "elsewhere", D, resource=mr.EXECUTION_QUEUE)
    assert other_wf is not None and list(other_wf.execution_queue_attributes.tags) == ["level2"]
    assert other_domain is not None and list(other_domain.execution_queue_attributes.tags) == ["level1"]
    assert other_project is not None and list(other_project.execution_queue_attributes.tags) == ["level0"]


async def test_project_task_resources_merge_onto_config_defaults(admin_server: Any) -> None:
    stub, config = admin_server.admin, admin_server.config.task_resources
    request = pa.ProjectAttributesGetRequest(project="flytesnacks", resource_type=mr.TASK_RESOURCE)
    unset = (await stub.GetProjectAttributes(request)).attributes.matching_attributes.task_resource_attributes
    assert (unset.defaults.cpu, unset.limits.memory) == (config.defaults.cpu, config.limits.memory)
    custom = mr.MatchingAttributes(
        task_resource_attributes=mr.TaskResourceAttributes(defaults=mr.TaskResourceSpec(cpu="3"))
    )
    await stub.UpdateProjectAttributes(
        pa.ProjectAttributesUpdateRequest(
            attributes=pa.ProjectAttributes(project="flytesnacks", matching_attributes=custom)
        )
    )
    merged = (await stub.GetProjectAttributes(request)).attributes.matching_attributes.task_resource_attributes
    assert (merged.defaults.cpu, merged.defaults.memory) == ("3", config.defaults.memory)
    assert merged.limits.cpu == config.limits.cpu
