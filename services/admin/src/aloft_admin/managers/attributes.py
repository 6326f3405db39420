"""Matchable attributes: project, project-domain and workflow attributes for every MatchableResource kind,
ListMatchableAttributes, and ``AttributeResolver`` for the managers that apply them (executions).

Precedence (most specific wins): domain < project < project+domain < workflow < launch plan, then the global
defaults from config (``task_resources`` for TASK_RESOURCE). ``resolve_each`` (every CreateExecution) reads through
a cache of ``admin.settingsCacheTtl`` (``read_cache``): this admin's updates and deletes clear it once committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flyteidl.admin import matchable_resource_pb2 as mr

from aloft_admin.config import ResourceSet, TaskResourcesConfig
from aloft_admin.managers.projects import ProjectDomainCheck
from aloft_admin.read_cache import ReadCache
from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_admin.repositories.keys import Scope
from aloft_admin.repositories.models.entities import MatchableAttributeRow
from aloft_admin.transformers.timestamps import Clock
from aloft_admin.validation.identifiers import missing, require
from aloft_service.errors import Aborted, AlreadyExists, InvalidArgument, NotFound

# MatchingAttributes' ``target`` oneof field → the MatchableResource it configures.
_RESOURCE_BY_FIELD = {
    "task_resource_attributes": mr.TASK_RESOURCE,
    "cluster_resource_attributes": mr.CLUSTER_RESOURCE,
    "execution_queue_attributes": mr.EXECUTION_QUEUE,
    "execution_cluster_label": mr.EXECUTION_CLUSTER_LABEL,
    "quality_of_service": mr.QUALITY_OF_SERVICE_SPECIFICATION,
    "plugin_overrides": mr.PLUGIN_OVERRIDE,
    "workflow_execution_config": mr.WORKFLOW_EXECUTION_CONFIG,
    "cluster_assignment": mr.CLUSTER_ASSIGNMENT,
}


def resource_name(resource: int) -> str:
    if resource not in mr.MatchableResource.values():
        raise InvalidArgument(f"invalid resource_type [{resource}]")
    return mr.MatchableResource.Name(resource)  # type: ignore[arg-type]


def resource_of(attributes: mr.MatchingAttributes) -> int:
    if not attributes.ByteSize():
        raise missing("matching_attributes")
    target = attributes.WhichOneof("target")
    if target is None:
        raise missing("matching_attributes target")
    return _RESOURCE_BY_FIELD[target]


def _task_resource_spec(resources: ResourceSet) -> mr.TaskResourceSpec:
    return mr.TaskResourceSpec(
        cpu=resources.cpu,
        gpu=resources.gpu,
        memory=resources.memory,
        storage=resources.storage,
        ephemeral_storage=resources.ephemeralStorage,
    )


def merge_task_resources(*levels: mr.TaskResourceAttributes) -> mr.TaskResourceAttributes:
    """Field by field, the first level (most specific first) that sets a value wins."""
    merged = mr.TaskResourceAttributes()
    for part in ("defaults", "limits"):
        target = getattr(merged, part)
        for field in ("cpu", "gpu", "memory", "storage", "ephemeral_storage"):
            value = next(
                (getattr(getattr(level, part), field) for level in levels if getattr(getattr(level, part), field)), ""
            )
            setattr(target, field, value)
    return merged


class AttributeResolver:
    """The attributes that apply to an execution's scope: the most specific stored ones, else config defaults."""

    def __init__(self, task_resources: TaskResourcesConfig, cache_ttl: float = 0.0) -> None:
        self._task_resources = task_resources
        self._resolved: ReadCache[tuple[Scope, tuple[int, ...]], dict[int, mr.MatchingAttributes | None]] = ReadCache(
            cache_ttl
        )

    def forget(self) -> None:
        """Attributes changed (an update or delete committed): resolve every scope again."""
        self._resolved.invalidate()

    def task_resource_defaults(self) -> mr.TaskResourceAttributes:
        config = self._task_resources
        return mr.TaskResourceAttributes(
            defaults=_task_resource_spec(config.defaults), limits=_task_resource_spec(config.limits)
        )

    def config_defaults(self, resource: int) -> mr.MatchingAttributes | None:
        """Global defaults from config, used when no scope has attributes of this kind."""
        if resource == mr.TASK_RESOURCE:
            return mr.MatchingAttributes(task_resource_attributes=self.task_resource_defaults())
        return None

    async def resolve(
        self,
        tx: Repositories,
        project: str,
        domain: str,
        workflow: str = "",
        launch_plan: str = "",
        *,
        resource: int,
        org: str = "",
    ) -> mr.MatchingAttributes | None:
        """The most specific attributes of kind ``resource`` for an execution's scope, else config defaults."""
        scope = Scope(project=project, domain=domain, workflow=workflow, launch_plan=launch_plan, org=org)
        row = await tx.attributes.most_specific(scope, resource_name(resource))
        if row is not None:
            return mr.MatchingAttributes.FromString(row.attributes)
        return self.config_defaults(resource)

    def cached_each(self, scope: Scope, resources: Sequence[int]) -> dict[int, mr.MatchingAttributes | None] | None:
        """``resolve_each``'s answer when it is cached (no database), else None."""
        found, cached = self._resolved.get((scope, tuple(resources)))
        return cached if found else None

    async def resolve_each(
        self, tx: Repositories, scope: Scope, resources: Sequence[int]
    ) -> dict[int, mr.MatchingAttributes | None]:
        """``resolve`` for several kinds at once, with one query (or none, cached). The answer is shared: do not
        mutate it."""
        key = (scope, tuple(resources))
        found, cached = self._resolved.get(key)
        if found and cached is not None:
            return cached
        generation = self._resolved.generation
        rows = await tx.attributes.most_specific_each(scope, [resource_name(r) for r in resources])
        resolved: dict[int, mr.MatchingAttributes | None] = {}
        for resource in resources:
            row = rows.get(resource_name(resource))
            resolved[resource] = (
                mr.MatchingAttributes.FromString(row.attributes) if row is not None else self.config_defaults(resource)
            )
        self._resolved.put(key, resolved, generation)
        return resolved


class AttributesManager:
    def __init__(
        self, repos: RepositoryProvider, clock: Clock, projects: ProjectDomainCheck, resolver: AttributeResolver
    ) -> None:
        self._repos = repos
        self._clock = clock
        self._projects = projects
        self._resolver = resolver

    async def update(self, scope: Scope, attributes: mr.MatchingAttributes) -> None:
        resource = resource_name(resource_of(attributes))
        try:
            await self._update(scope, resource, attributes)
        finally:
            self._resolver.forget()  # committed (or not): this admin's next execution resolves again

    async def _update(self, scope: Scope, resource: str, attributes: mr.MatchingAttributes) -> None:
        try:
            async with self._repos.transaction() as tx:
                await self._check_scope(tx, scope)
                row = await tx.attributes.get(scope, resource)
                now = self._clock()
                if row is None:
                    row = MatchableAttributeRow(
                        org=scope.org,
                        project=scope.project,
                        domain=scope.domain,
                        workflow=scope.workflow,
                        launch_plan=scope.launch_plan,
                        resource_type=resource,
                        priority=scope.priority,
                        created_at=now,
                    )
                    tx.attributes.add(row)
                row.attributes = attributes.SerializeToString()
                row.updated_at = now
        except AlreadyExists as exc:
            raise Aborted(f"attributes for {self._describe(scope)} were updated concurrently, retry") from exc

    async def get_project(self, scope: Scope, resource: int) -> mr.MatchingAttributes:
        """Project attributes; TASK_RESOURCE is merged down onto the config defaults, as flyteadmin does."""
        if resource != mr.TASK_RESOURCE:
            return await self.get(scope, resource)
        async with self._repos.transaction() as tx:
            row = await tx.attributes.get(scope, resource_name(resource))
        levels = [self._resolver.task_resource_defaults()]
        if row is not None:
            levels.insert(0, mr.MatchingAttributes.FromString(row.attributes).task_resource_attributes)
        merged = merge_task_resources(*levels)
        return mr.MatchingAttributes(task_resource_attributes=merged)

    async def get(self, scope: Scope, resource: int) -> mr.MatchingAttributes:
        async with self._repos.transaction() as tx:
            row = await tx.attributes.get(scope, resource_name(resource))
        if row is None:
            raise NotFound(f"no {resource_name(resource)} attributes found for {self._describe(scope)}")
        return mr.MatchingAttributes.FromString(row.attributes)

    async def delete(self, scope: Scope, resource: int) -> None:
        try:
            async with self._repos.transaction() as tx:
                row = await tx.attributes.get(scope, resource_name(resource))
                if row is None:
                    raise NotFound(f"no {resource_name(resource)} attributes found for {self._describe(scope)}")
                await tx.attributes.delete(row)
        finally:
            self._resolver.forget()

    async def list(self, request: mr.ListMatchableAttributesRequest) -> mr.ListMatchableAttributesResponse:
        async with self._repos.transaction() as tx:
            rows = await tx.attributes.all_of_type(resource_name(request.resource_type), request.org)
        return mr.ListMatchableAttributesResponse(
            configurations=[
                mr.MatchableAttributesConfiguration(
                    attributes=mr.MatchingAttributes.FromString(r.attributes),
                    project=r.project,
                    domain=r.domain,
                    workflow=r.workflow,
                    launch_plan=r.launch_plan,
                    org=r.org,
                )
                for r in rows
            ]
        )

    async def _check_scope(self, tx: Repositories, scope: Scope) -> None:
        require(scope.project, "project")
        if scope.domain:
            await self._projects.ensure(tx, scope.project, scope.domain, scope.org)
        elif await tx.projects.get(scope.project, scope.org) is None:
            raise InvalidArgument(f"project [{scope.project}] is not registered")

    @staticmethod
    def _describe(scope: Scope) -> str:
        parts: list[Any] = [scope.project, scope.domain, scope.workflow, scope.launch_plan]
        return "[" + ":".join(p for p in parts if p) + "]"


def project_scope(project: str, org: str) -> Scope:
    require(project, "project")
    return Scope(project=project, org=org)


def project_domain_scope(project: str, domain: str, org: str) -> Scope:
    require(project, "project")
    require(domain, "domain")
    return Scope(project=project, domain=domain, org=org)


def workflow_scope(project: str, domain: str, workflow: str, org: str) -> Scope:
    require(project, "project")
    require(domain, "domain")
    require(workflow, "workflow")
    return Scope(project=project, domain=domain, workflow=workflow, org=org)


def attributes_of(request: Any) -> Any:
    """The ``attributes`` message of an Update request (InvalidArgument when absent)."""
    if not request.HasField("attributes"):
        raise missing("attributes")
    return request.attributes
