"""Tasks: CreateTask, GetTask, ListTaskIds, ListTasks (flyteadmin task_manager.go semantics).

Versions are immutable: re-registering an identical template is ALREADY_EXISTS ("task with identical structure
already exists", which pyflyte treats as success); a different template under the same version is
INVALID_ARGUMENT listing the differing fields.
"""

from __future__ import annotations

from flyteidl.admin import common_pb2, task_pb2
from flyteidl.core import compiler_pb2, identifier_pb2

import aloft_compiler
from aloft_admin.config import ResourceSet
from aloft_admin.managers import registered_entities as registered
from aloft_admin.managers.entity_ids import list_entity_ids
from aloft_admin.managers.projects import ProjectDomainCheck
from aloft_admin.managers.registration import ensure_named_entity, ensure_new_version, store_description
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import TaskRow
from aloft_admin.transformers import entities as transform
from aloft_admin.transformers.timestamps import Clock, to_timestamp
from aloft_admin.validation.identifiers import validate_identifier, validate_named_identifier
from aloft_admin.validation.tasks import validate_task_request
from aloft_service.errors import InvalidArgument


async def _registered_task(row: TaskRow) -> compiler_pb2.CompiledTask:
    return task_pb2.TaskClosure.FromString(row.closure).compiled_task


class TaskManager:
    def __init__(
        self, repos: RepositoryProvider, clock: Clock, projects: ProjectDomainCheck, resource_limits: ResourceSet
    ) -> None:
        self._repos = repos
        self._clock = clock
        self._projects = projects
        self._resource_limits = resource_limits

    async def create(self, request: task_pb2.TaskCreateRequest) -> task_pb2.TaskCreateResponse:
        validate_task_request(request, self._resource_limits)
        template = request.spec.template
        template.id.CopyFrom(request.id)  # the stored template names exactly the registered version
        try:
            (compiled,) = aloft_compiler.compile_tasks([template])
        except aloft_compiler.CompileErrors as errors:
            raise InvalidArgument(f"failed to compile task [{request.id.name}] with err {errors}") from errors
        closure = task_pb2.TaskClosure(compiled_task=compiled)
        task_digest = transform.digest(closure.compiled_task)
        async with self._repos.transaction() as tx:
            await self._projects.ensure(tx, request.id.project, request.id.domain)
            await ensure_new_version(
                tx, "task", TaskRow, request.id, task_digest, closure.compiled_task, _registered_task
            )
            now = self._clock()
            closure.created_at.CopyFrom(to_timestamp(now))
            description = request.spec.description if request.spec.HasField("description") else None
            short = await store_description(tx, request.id, description, now)
            tx.entities.add(
                TaskRow(
                    **transform.version_columns(request.id),
                    closure=closure.SerializeToString(),
                    digest=task_digest,
                    type=template.type,
                    short_description=short,
                    created_at=now,
                    updated_at=now,
                )
            )
            await ensure_named_entity(tx, request.id, now)
        return task_pb2.TaskCreateResponse()

    async def get(self, request: common_pb2.ObjectGetRequest) -> task_pb2.Task:
        validate_identifier(request.id, identifier_pb2.TASK)
        async with self._repos.transaction() as tx:
            return await registered.get_task(tx, request.id)

    async def list(self, request: common_pb2.ResourceListRequest) -> task_pb2.TaskList:
        validate_named_identifier(request.id, name_required=False)
        async with self._repos.transaction() as tx:
            rows, token = await tx.entities.list_versions(TaskRow, request.id, ListQuery.of(request))
        return task_pb2.TaskList(tasks=[transform.to_task(r) for r in rows], token=token)

    async def list_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        return await list_entity_ids(self._repos, TaskRow, request)
