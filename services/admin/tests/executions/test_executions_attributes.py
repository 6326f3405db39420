"""CreateExecution applies matchable attributes with Flyte's precedence (request > launch plan > workflow attributes >
project-domain attributes > config defaults) and sends the resolved config to the data plane."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_domain_attributes_pb2 as pda
from flyteidl.admin import workflow_attributes_pb2 as wfa
from flyteidl.core import literals_pb2

PROJECT, DOMAIN = "flytesnacks", "development"


async def set_project_domain(admin: Any, attributes: mr.MatchingAttributes) -> None:
    await admin.UpdateProjectDomainAttributes(
        pda.ProjectDomainAttributesUpdateRequest(
            attributes=pda.ProjectDomainAttributes(project=PROJECT, domain=DOMAIN, matching_attributes=attributes)
        )
    )


async def test_attributes_resolve_into_spec_and_data_plane_config(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()
    await set_project_domain(
        admin,
        mr.MatchingAttributes(
            workflow_execution_config=mr.WorkflowExecutionConfig(
                max_parallelism=7,
                labels=common_pb2.Labels(values={"team": "pd"}),
                envs=common_pb2.Envs(values=[literals_pb2.KeyValuePair(key="MODE", value="pd")]),
                raw_output_data_config=common_pb2.RawOutputDataConfig(output_location_prefix="s3://raw/pd"),
            )
        ),
    )
    await set_project_domain(
        admin,
        mr.MatchingAttributes(
            task_resource_attributes=mr.TaskResourceAttributes(
                defaults=mr.TaskResourceSpec(cpu="250m"), limits=mr.TaskResourceSpec(memory="8Gi")
            )
        ),
    )
    await set_project_domain(
        admin, mr.MatchingAttributes(execution_cluster_label=mr.ExecutionClusterLabel(value="general"))
    )
    # Workflow attributes are more specific than project-domain ones.
    await admin.UpdateWorkflowAttributes(
        wfa.WorkflowAttributesUpdateRequest(
            attributes=wfa.WorkflowAttributes(
                project=PROJECT,
                domain=DOMAIN,
                workflow="wf",
                matching_attributes=mr.MatchingAttributes(
                    workflow_execution_config=mr.WorkflowExecutionConfig(
                        max_parallelism=9, labels=common_pb2.Labels(values={"team": "wf"})
                    )
                ),
            )
        )
    )

    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name="attrs",
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id, annotations=common_pb2.Annotations(values={"k": "v"})),
        inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(1)}),
    )
    await admin.CreateExecution(request)
    got = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_server.wid("attrs")))
    assert got.spec.max_parallelism == 9  # workflow attributes beat project-domain ones
    assert dict(got.spec.labels.values) == {"team": "wf"}
    assert dict(got.spec.annotations.values) == {"k": "v"}  # from the request
    assert got.spec.execution_cluster_label.value == "general"

    [sent] = fake.created
    config = sent.config
    assert config.max_parallelism == 9 and dict(config.labels) == {"team": "wf"}
    assert dict(config.annotations) == {"k": "v"}
    assert config.execution_cluster_label == "general" and sent.cluster == "east"
    # Task resources: attributes per field, config defaults for the rest.
    assert (config.task_resource_defaults.cpu, config.task_resource_defaults.memory) == ("250m", "1Gi")
    assert (config.task_resource_limits.cpu, config.task_resource_limits.memory) == ("2", "8Gi")

    # The request's own settings beat every attribute.
    request.name = "override"
    request.spec.max_parallelism = 3
    request.spec.raw_output_data_config.output_location_prefix = "s3://raw/mine"
    await admin.CreateExecution(request)
    mine = fake.created[-1].config
    assert mine.max_parallelism == 3 and mine.raw_output_prefix == "s3://raw/mine"


async def test_launch_plan_settings_beat_attributes(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()
    await set_project_domain(
        admin, mr.MatchingAttributes(workflow_execution_config=mr.WorkflowExecutionConfig(max_parallelism=7))
    )
    spec = (await admin.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id))).spec
    spec.max_parallelism = 2
    spec.labels.values["from"] = "lp"
    lp2 = launch_plan_pb2.LaunchPlanCreateRequest(id=lp_id, spec=spec)
    lp2.id.version = "v2"
    await admin.CreateLaunchPlan(lp2)
    await admin.CreateExecution(
        execution_pb2.ExecutionCreateRequest(
            project=PROJECT,
            domain=DOMAIN,
            name="lpwins",
            spec=execution_pb2.ExecutionSpec(launch_plan=lp2.id),
            inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(1)}),
        )
    )
    sent = fake.created[-1].config
    assert sent.max_parallelism == 2 and dict(sent.labels) == {"from": "lp"}


async def test_attribute_changes_through_this_admin_apply_to_the_next_execution(
    exec_server: Any, literals: Any
) -> None:
    """Resolved attributes are cached (admin.settingsCacheTtl), but this admin's own update and delete clear it."""
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()

    async def create(name: str) -> int:
        await admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                name=name,
                spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
                inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(1)}),
            )
        )
        return fake.created[-1].config.max_parallelism

    def parallelism(value: int) -> mr.MatchingAttributes:
        return mr.MatchingAttributes(workflow_execution_config=mr.WorkflowExecutionConfig(max_parallelism=value))

    await set_project_domain(admin, parallelism(7))
    assert await create("c1") == 7
    await set_project_domain(admin, parallelism(11))
    assert await create("c2") == 11
    await admin.DeleteProjectDomainAttributes(
        pda.ProjectDomainAttributesDeleteRequest(
            project=PROJECT, domain=DOMAIN, resource_type=mr.WORKFLOW_EXECUTION_CONFIG
        )
    )
    assert await create("c3") == 25  # admin's default once no attributes apply
