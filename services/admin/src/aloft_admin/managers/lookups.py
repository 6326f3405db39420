"""Read-only lookups other admin managers use (executions, signals, dataproxy).

Signature convention: every function takes ``(deps, session, ...)`` — ``deps`` because a workflow's compiled
closure is offloaded to the blob store; ``session`` is the caller's transaction (``async with deps.db.session()``).
All raise NotFound naming the identifier; ``ensure_project_domain`` raises InvalidArgument as flyteadmin does
for an unregistered/archived project or an unknown domain.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from flyteidl.admin import common_pb2, launch_plan_pb2, project_pb2, task_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.deps import AdminDeps
from aloft_admin.repositories.models.entities import LaunchPlanRow, ProjectRow, TaskRow, WorkflowRow
from aloft_admin.repositories.sql import entities as repo
from aloft_admin.transformers import entities as transform
from aloft_admin.validation.identifiers import resource_type_name
from aloft_service.errors import Internal, InvalidArgument, NotFound
from aloft_storage import BlobNotFound

INACTIVE_STATES = (project_pb2.Project.ARCHIVED, project_pb2.Project.SYSTEM_ARCHIVED)


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


@dataclass(frozen=True)
class LaunchTarget:
    """The immutable parts of a launch plan version and of its workflow version that an execution needs.

    Callers must not mutate the messages: they are shared through the cache below.
    """

    launch_plan_id: identifier_pb2.Identifier
    spec: launch_plan_pb2.LaunchPlanSpec
    expected_inputs: interface_pb2.ParameterMap
    workflow_id: identifier_pb2.Identifier
    workflow_closure_uri: str


LAUNCH_TARGET_CACHE_SIZE = 1024
_LAUNCH_TARGETS = "lookups.launch_targets"


def _identifier_key(id: identifier_pb2.Identifier) -> tuple[str, ...]:
    return (id.org, id.project, id.domain, id.name, id.version)


async def get_launch_target(deps: AdminDeps, session: AsyncSession, id: identifier_pb2.Identifier) -> LaunchTarget:
    """Launch plan + workflow for a new execution. Versions are immutable (the mutable ACTIVE/INACTIVE state is
    not part of a target), so found targets are kept in a small per-deps LRU; misses are never cached."""
    cache: OrderedDict[tuple[str, ...], LaunchTarget] = deps.extras.setdefault(_LAUNCH_TARGETS, OrderedDict())
    key = _identifier_key(id)
    target = cache.get(key)
    if target is not None:
        cache.move_to_end(key)
        return target
    lp = await get_launch_plan(deps, session, id)
    workflow_row = await get_workflow_row(session, lp.spec.workflow_id)
    # Registration computes expected_inputs (every workflow input not fixed); older rows may only have defaults.
    expected = lp.closure.expected_inputs if lp.closure.expected_inputs.parameters else lp.spec.default_inputs
    target = LaunchTarget(
        launch_plan_id=lp.id,
        spec=lp.spec,
        expected_inputs=expected,
        workflow_id=transform.to_workflow(workflow_row).id,
        workflow_closure_uri=workflow_row.remote_closure_uri,
    )
    cache[key] = target
    if len(cache) > LAUNCH_TARGET_CACHE_SIZE:
        cache.popitem(last=False)
    return target


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


async def ensure_project_domain(
    deps: AdminDeps, session: AsyncSession, project: str, domain: str, org: str = ""
) -> ProjectRow:
    """The project must be registered and active and the domain one of the configured domains."""
    row = await repo.find_project(session, project, org)
    if row is None:
        raise InvalidArgument(
            f"failed to validate that project [{project}] and domain [{domain}] are registered, "
            f"err: [project [{project}] not found]"
        )
    if row.state in INACTIVE_STATES:
        raise InvalidArgument(f"project [{project}] is not active", details=_inactive(project))
    if domain not in {d.id for d in deps.config.domains}:
        raise InvalidArgument(f"domain [{domain}] is unrecognized by system")
    return row


def _inactive(project: str) -> project_pb2.InactiveProject:
    return project_pb2.InactiveProject(id=project)
