"""Single-task executions: CreateExecution whose ``spec.launch_plan`` names a TASK (``FlyteRemote.execute(task)``).

As flyteadmin does, admin generates (once, idempotently) a workflow ``.flytegen.<task name>`` wrapping the task in
one node and a launch plan of the same name and version, then launches that launch plan. The execution's stored
spec keeps the task identifier, which is how clients recognise a single-task execution.
"""

from __future__ import annotations

import re

from flyteidl.admin import launch_plan_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_wf

from aloft_admin.managers import registered_entities as registered
from aloft_admin.managers.launch_plans import LaunchPlanManager
from aloft_admin.managers.workflows import WorkflowManager
from aloft_admin.repositories.base import RepositoryProvider
from aloft_service.errors import AlreadyExists

SYSTEM_PREFIX = ".flytegen."
MAX_NODE_ID_LENGTH = 63
START_NODE = "start-node"
# flyteadmin's retry default for generated single-task workflows when the task declares none.
DEFAULT_RETRIES = 3


def generated_node_id(task_name: str) -> str:
    return re.sub(r"[^-A-Za-z0-9]", "", task_name[-MAX_NODE_ID_LENGTH:])


def _outputs_of(node_id: str, variables: interface_pb2.VariableMap) -> list[literals_pb2.Binding]:
    return [
        literals_pb2.Binding(
            var=name, binding=literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=name))
        )
        for name in variables.variables
    ]


def wrapper_workflow(task_id: identifier_pb2.Identifier, template: tasks_pb2.TaskTemplate) -> core_wf.WorkflowTemplate:
    interface = template.interface
    retries = template.metadata.retries
    node_id = generated_node_id(task_id.name)
    node = core_wf.Node(
        id=node_id,
        metadata=core_wf.NodeMetadata(name=node_id, retries=retries if retries.retries else None),
        inputs=_outputs_of(START_NODE, interface.inputs),
        task_node=core_wf.TaskNode(reference_id=task_id),
    )
    if not retries.retries:
        node.metadata.retries.retries = DEFAULT_RETRIES
    return core_wf.WorkflowTemplate(
        id=_generated_id(task_id, identifier_pb2.WORKFLOW),
        interface=interface,
        nodes=[node],
        outputs=_outputs_of(node_id, interface.outputs),
    )


def _generated_id(task_id: identifier_pb2.Identifier, resource_type: int) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=resource_type,  # type: ignore[arg-type]
        project=task_id.project,
        domain=task_id.domain,
        name=SYSTEM_PREFIX + task_id.name,
        version=task_id.version,
        org=task_id.org,
    )


class SingleTaskLaunchPlans:
    """The generated workflow and launch plan of single-task executions, registered through their managers."""

    def __init__(self, repos: RepositoryProvider, workflows: WorkflowManager, launch_plans: LaunchPlanManager) -> None:
        self._repos = repos
        self._workflows = workflows
        self._launch_plans = launch_plans

    async def launch_plan_for(self, task_id: identifier_pb2.Identifier) -> identifier_pb2.Identifier:
        """The generated launch plan's id, creating it and its workflow on first use (NotFound naming the task)."""
        async with self._repos.transaction() as tx:
            task = await registered.get_task(tx, task_id)
        template = task.closure.compiled_task.template
        workflow = wrapper_workflow(task_id, template)
        lp_id = _generated_id(task_id, identifier_pb2.LAUNCH_PLAN)
        try:
            await self._workflows.create(
                workflow_pb2.WorkflowCreateRequest(id=workflow.id, spec=workflow_pb2.WorkflowSpec(template=workflow))
            )
        except AlreadyExists:
            pass  # generated before (or concurrently): same content
        try:
            await self._launch_plans.create(
                launch_plan_pb2.LaunchPlanCreateRequest(
                    id=lp_id, spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=workflow.id)
                )
            )
        except AlreadyExists:
            pass
        return lp_id
