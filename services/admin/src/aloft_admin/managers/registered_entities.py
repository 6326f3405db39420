"""Reading registered entities (tasks, workflows, launch plans) for the managers that use them.

Functions take ``tx``, the repositories of the caller's transaction; those that read a workflow's compiled closure
also take the blob store it is offloaded to. All raise NotFound naming the identifier.
"""

from __future__ import annotations

from flyteidl.admin import common_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2

from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.entities import LaunchPlanRow, TaskRow, WorkflowRow
from aloft_admin.transformers import entities as transform
from aloft_admin.validation.identifiers import resource_type_name
from aloft_service.errors import Internal, NotFound
from aloft_storage import BlobNotFound, BlobStore


def missing_entity(resource_type: int, id: identifier_pb2.Identifier | common_pb2.NamedEntityIdentifier) -> NotFound:
    return NotFound(
        f"missing entity of type {resource_type_name(resource_type)} with identifier [{transform.id_text(id)}]"
    )


async def get_task_row(tx: Repositories, id: identifier_pb2.Identifier) -> TaskRow:
    row = await tx.entities.get(TaskRow, id)
    if row is None:
        raise missing_entity(identifier_pb2.TASK, id)
    return row


async def get_workflow_row(tx: Repositories, id: identifier_pb2.Identifier) -> WorkflowRow:
    row = await tx.entities.get(WorkflowRow, id)
    if row is None:
        raise missing_entity(identifier_pb2.WORKFLOW, id)
    return row


async def get_launch_plan_row(tx: Repositories, id: identifier_pb2.Identifier) -> LaunchPlanRow:
    row = await tx.entities.get(LaunchPlanRow, id)
    if row is None:
        raise missing_entity(identifier_pb2.LAUNCH_PLAN, id)
    return row


async def get_task(tx: Repositories, id: identifier_pb2.Identifier) -> task_pb2.Task:
    return transform.to_task(await get_task_row(tx, id))


async def read_compiled_closure(blobs: BlobStore, row: WorkflowRow) -> compiler_pb2.CompiledWorkflowClosure:
    try:
        return await blobs.read_proto(row.remote_closure_uri, compiler_pb2.CompiledWorkflowClosure)
    except BlobNotFound as exc:
        name = f"{row.project}:{row.domain}:{row.name}:{row.version}"
        raise Internal(f"compiled closure of workflow [{name}] is missing from {row.remote_closure_uri}") from exc


async def get_workflow(blobs: BlobStore, tx: Repositories, id: identifier_pb2.Identifier) -> workflow_pb2.Workflow:
    """The workflow with ``closure.compiled_workflow`` read back from the blob store."""
    row = await get_workflow_row(tx, id)
    return transform.to_workflow(row, await read_compiled_closure(blobs, row))


async def get_launch_plan(tx: Repositories, id: identifier_pb2.Identifier) -> launch_plan_pb2.LaunchPlan:
    return transform.to_launch_plan(await get_launch_plan_row(tx, id))


async def get_active_launch_plan(
    tx: Repositories, project: str, domain: str, name: str, org: str = ""
) -> launch_plan_pb2.LaunchPlan:
    id = common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name, org=org)
    row = await tx.launch_plans.active(id)
    if row is None:
        raise NotFound(f"no active launch plan found for [{transform.id_text(id)}]")
    return transform.to_launch_plan(row)


async def active_scheduled_launch_plans(tx: Repositories) -> list[launch_plan_pb2.LaunchPlan]:
    """Active launch plans with a schedule (cron or fixed rate), for the scheduler."""
    return [transform.to_launch_plan(row) for row in await tx.launch_plans.scheduled()]
