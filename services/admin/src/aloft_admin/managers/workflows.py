"""Workflows: CreateWorkflow (compile + store), GetWorkflow, ListWorkflows, ListWorkflowIds.

CreateWorkflow resolves what the template references — registered tasks, registered launch plans, and
sub-workflows that are either in ``spec.sub_workflows`` or registered — compiles with ``aloft_compiler`` and stores
the CompiledWorkflowClosure in the blob store (the row keeps its URI). Compile errors are INVALID_ARGUMENT and
name the node and variable. Identical re-registration is ALREADY_EXISTS, a different structure under the same
version INVALID_ARGUMENT; both carry flyteadmin's CreateWorkflowFailureReason details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flyteidl.admin import common_pb2, task_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

import aloft_compiler
from aloft_admin.managers import registered_entities as registered
from aloft_admin.managers.entity_ids import list_entity_ids
from aloft_admin.managers.projects import ProjectDomainCheck
from aloft_admin.managers.registration import ensure_named_entity, ensure_new_version, store_description
from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import LaunchPlanRow, TaskRow, WorkflowRow
from aloft_admin.transformers import entities as transform
from aloft_admin.transformers.timestamps import Clock
from aloft_admin.validation.identifiers import missing, validate_identifier, validate_named_identifier
from aloft_service.errors import InvalidArgument
from aloft_storage import BlobStore

# Registered sub-workflows may themselves reference registered sub-workflows; stop resolving after this depth.
_MAX_RESOLVE_ROUNDS = 10


@dataclass
class _Requirements:
    """What the compiler needs beyond the request: found entities, keyed by identifier text."""

    sub_workflows: dict[str, core_workflow_pb2.WorkflowTemplate] = field(default_factory=dict)
    tasks: dict[str, Any] = field(default_factory=dict)
    launch_plans: dict[str, aloft_compiler.LaunchPlanInterface] = field(default_factory=dict)


def _key(id: identifier_pb2.Identifier) -> str:
    return id.SerializeToString(deterministic=True).hex()


def _uncompiled(template: core_workflow_pb2.WorkflowTemplate) -> core_workflow_pb2.WorkflowTemplate:
    """A compiled template minus the start/end nodes the compiler adds, ready to be compiled again."""
    plain = core_workflow_pb2.WorkflowTemplate()
    plain.CopyFrom(template)
    del plain.nodes[:]
    synthetic = {aloft_compiler.START_NODE_ID, aloft_compiler.END_NODE_ID}
    plain.nodes.extend(node for node in template.nodes if node.id not in synthetic)
    return plain


def _failure_reason(id: identifier_pb2.Identifier, identical: bool) -> workflow_pb2.CreateWorkflowFailureReason:
    if identical:
        return workflow_pb2.CreateWorkflowFailureReason(
            exists_identical_structure=workflow_pb2.WorkflowErrorExistsIdenticalStructure(id=id)
        )
    return workflow_pb2.CreateWorkflowFailureReason(
        exists_different_structure=workflow_pb2.WorkflowErrorExistsDifferentStructure(id=id)
    )


class WorkflowManager:
    def __init__(
        self,
        repos: RepositoryProvider,
        blobs: BlobStore,
        clock: Clock,
        projects: ProjectDomainCheck,
        metadata_prefix: str,
    ) -> None:
        self._repos = repos
        self._blobs = blobs
        self._clock = clock
        self._projects = projects
        self._metadata_prefix = metadata_prefix

    def _validate(self, request: workflow_pb2.WorkflowCreateRequest) -> None:
        validate_identifier(request.id, identifier_pb2.WORKFLOW)
        if not request.HasField("spec") or not request.spec.HasField("template"):
            raise missing("spec")
        if not request.spec.template.nodes:
            raise InvalidArgument(f"workflow [{request.id.name}] has no nodes")

    async def create(self, request: workflow_pb2.WorkflowCreateRequest) -> workflow_pb2.WorkflowCreateResponse:
        self._validate(request)
        template = request.spec.template
        template.id.CopyFrom(request.id)
        async with self._repos.transaction() as tx:
            await self._projects.ensure(tx, request.id.project, request.id.domain, request.id.org)
            closure = await self._compile(tx, template, list(request.spec.sub_workflows))
            closure_digest = transform.digest(closure)
            await ensure_new_version(
                tx,
                "workflow",
                WorkflowRow,
                request.id,
                closure_digest,
                closure,
                lambda row: registered.read_compiled_closure(self._blobs, row),
                lambda identical: _failure_reason(request.id, identical),
            )
            now = self._clock()
            uri = self._closure_uri(request.id, closure_digest)
            await self._blobs.write_proto(uri, closure)
            description = request.spec.description if request.spec.HasField("description") else None
            short = await store_description(tx, request.id, description, now)
            tx.entities.add(
                WorkflowRow(
                    **transform.version_columns(request.id),
                    typed_interface=template.interface.SerializeToString(),
                    remote_closure_uri=uri,
                    digest=closure_digest,
                    short_description=short,
                    created_at=now,
                    updated_at=now,
                )
            )
            await ensure_named_entity(tx, request.id, now)
        return workflow_pb2.WorkflowCreateResponse()

    def _closure_uri(self, id: identifier_pb2.Identifier, closure_digest: bytes) -> str:
        # The digest in the key keeps a racing registration of a different spec from overwriting this one.
        parts = [self._metadata_prefix, "admin", "workflows", id.org or "_", id.project, id.domain]
        return self._blobs.uri(*parts, id.name, id.version, f"{closure_digest.hex()[:20]}.pb")

    async def _compile(
        self,
        tx: Repositories,
        primary: core_workflow_pb2.WorkflowTemplate,
        sub_workflows: list[core_workflow_pb2.WorkflowTemplate],
    ) -> compiler_pb2.CompiledWorkflowClosure:
        found = _Requirements(sub_workflows={_key(wf.id): wf for wf in sub_workflows})
        for _ in range(_MAX_RESOLVE_ROUNDS):
            refs = aloft_compiler.required_references(primary, list(found.sub_workflows.values()))
            fetched = await self._fetch(tx, refs, found)
            if not fetched:
                break
        try:
            closure: compiler_pb2.CompiledWorkflowClosure = aloft_compiler.compile_workflow(
                primary,
                list(found.sub_workflows.values()),
                list(found.tasks.values()),
                list(found.launch_plans.values()),
            )
        except aloft_compiler.CompileErrors as errors:
            raise InvalidArgument(f"failed to compile workflow for [{primary.id.name}] with err {errors}") from errors
        return closure

    async def _fetch(self, tx: Repositories, refs: aloft_compiler.References, found: _Requirements) -> bool:
        """Load referenced entities not yet known; True when anything new (a sub-workflow) was added.

        Missing ones are left out: the compiler then reports them naming the referring node.
        """
        for task_id in refs.task_ids:
            if _key(task_id) not in found.tasks and (row := await tx.entities.get(TaskRow, task_id)) is not None:
                found.tasks[_key(task_id)] = task_pb2.TaskClosure.FromString(row.closure).compiled_task.template
        for lp_id in refs.launch_plan_ids:
            if _key(lp_id) in found.launch_plans:
                continue
            if (lp_row := await tx.entities.get(LaunchPlanRow, lp_id)) is not None:
                launch_plan = transform.to_launch_plan(lp_row)
                found.launch_plans[_key(lp_id)] = aloft_compiler.LaunchPlanInterface.from_launch_plan(launch_plan)
        added = False
        for wf_id in refs.workflow_ids:
            if (wf_row := await tx.entities.get(WorkflowRow, wf_id)) is None:
                continue
            closure = await registered.read_compiled_closure(self._blobs, wf_row)
            for compiled in [closure.primary, *closure.sub_workflows]:
                if _key(compiled.template.id) not in found.sub_workflows:
                    found.sub_workflows[_key(compiled.template.id)] = _uncompiled(compiled.template)
                    added = True
            for task in closure.tasks:
                found.tasks.setdefault(_key(task.template.id), task.template)
        return added

    async def get(self, request: common_pb2.ObjectGetRequest) -> workflow_pb2.Workflow:
        validate_identifier(request.id, identifier_pb2.WORKFLOW)
        async with self._repos.transaction() as tx:
            return await registered.get_workflow(self._blobs, tx, request.id)

    async def list(self, request: common_pb2.ResourceListRequest) -> workflow_pb2.WorkflowList:
        """Workflows without their compiled closures (GetWorkflow returns those), as flyteadmin lists them."""
        validate_named_identifier(request.id, name_required=False)
        async with self._repos.transaction() as tx:
            rows, token = await tx.entities.list_versions(WorkflowRow, request.id, ListQuery.of(request))
        return workflow_pb2.WorkflowList(workflows=[transform.to_workflow(r) for r in rows], token=token)

    async def list_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        return await list_entity_ids(self._repos, WorkflowRow, request)
