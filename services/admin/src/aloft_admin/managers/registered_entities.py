"""Reading registered entities (tasks, workflows, launch plans) for the managers that use them.

Signature convention: functions take ``(deps, session, ...)`` — ``deps`` because a workflow's compiled closure is
offloaded to the blob store; ``session`` is the caller's transaction (``async with deps.db.session()``).
All raise NotFound naming the identifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyteidl.admin import common_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories.models.entities import LaunchPlanRow, TaskRow, WorkflowRow
from aloft_admin.repositories.sql import entities as repo
from aloft_admin.transformers import entities as transform
from aloft_admin.validation.identifiers import resource_type_name
from aloft_service.errors import Internal, NotFound
from aloft_storage import BlobNotFound

if TYPE_CHECKING:
    from aloft_admin.deps import AdminDeps  # deps builds the launch-target cache, which reads through here


def missing_entity(resource_type: int, id: identifier_pb2.Identifier | common_pb2.NamedEntityIdentifier) -> NotFound:
    return NotFound(
        f"missing entity of type {resource_type_name(resource_type)} with identifier [{transform.id_text(id)}]"
    )


async def get_task_row(session: AsyncSession, id: identifier_pb2.Identifier) -> TaskRow:
    row = await repo.find(session, TaskRow, id)
    if row is None:
        raise missing_entity(identifier_pb2.TASK, id)
    return row


async def get_workflow_row(session: AsyncSession, id: identifier_pb2.Identifier) -> WorkflowRow:
    row = await repo.find(session, WorkflowRow, id)
    if row is None:
        raise missing_entity(identifier_pb2.WORKFLOW, id)
    return row


async def get_launch_plan_row(session: AsyncSession, id: identifier_pb2.Identifier) -> LaunchPlanRow:
    row = await repo.find(session, LaunchPlanRow, id)
    if row is None:
        raise missing_entity(identifier_pb2.LAUNCH_PLAN, id)
    return row


async def get_task(deps: AdminDeps, session: AsyncSession, id: identifier_pb2.Identifier) -> task_pb2.Task:
    return transform.to_task(await get_task_row(session, id))


async def read_compiled_closure(deps: AdminDeps, row: WorkflowRow) -> compiler_pb2.CompiledWorkflowClosure:
    try:
        return await deps.blobs.read_proto(row.remote_closure_uri, compiler_pb2.CompiledWorkflowClosure)
    except BlobNotFound as exc:
        name = f"{row.project}:{row.domain}:{row.name}:{row.version}"
        raise Internal(f"compiled closure of workflow [{name}] is missing from {row.remote_closure_uri}") from exc


async def get_workflow(deps: AdminDeps, session: AsyncSession, id: identifier_pb2.Identifier) -> workflow_pb2.Workflow:
    """The workflow with ``closure.compiled_workflow`` read back from the blob store."""
    row = await get_workflow_row(session, id)
    return transform.to_workflow(row, await read_compiled_closure(deps, row))


async def get_launch_plan(
    deps: AdminDeps, session: AsyncSession, id: identifier_pb2.Identifier
) -> launch_plan_pb2.LaunchPlan:
    return transform.to_launch_plan(await get_launch_plan_row(session, id))


async def get_active_launch_plan(
    deps: AdminDeps, session: AsyncSession, project: str, domain: str, name: str, org: str = ""
) -> launch_plan_pb2.LaunchPlan:
    id = common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name, org=org)
    row = await repo.find_active_launch_plan(session, id)
    if row is None:
        raise NotFound(f"no active launch plan found for [{transform.id_text(id)}]")
    return transform.to_launch_plan(row)


async def active_scheduled_launch_plans(deps: AdminDeps, session: AsyncSession) -> list[launch_plan_pb2.LaunchPlan]:
    """Active launch plans with a schedule (cron or fixed rate), for the scheduler."""
    return [transform.to_launch_plan(row) for row in await repo.active_scheduled_launch_plans(session)]
