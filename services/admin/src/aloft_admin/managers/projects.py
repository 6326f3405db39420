"""Projects and domains: RegisterProject, UpdateProject, GetProject, ListProjects, GetDomains.

Domains are system-wide (the ``domains`` config section). ``ProjectDomainCheck`` is the check every
registration and execution makes first: InvalidArgument, as flyteadmin answers, for an unregistered or archived
project or an unknown domain; it remembers active projects for ``admin.settingsCacheTtl`` (``read_cache``: this
admin's UpdateProject clears it). ListProjects without filters hides archived projects
and sorts by id, as flyteadmin does; limit 0 means no limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from flyteidl.admin import project_pb2

from aloft_admin.config import DomainConfig
from aloft_admin.read_cache import ReadCache
from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import ProjectRow
from aloft_admin.transformers import entities as transform
from aloft_admin.transformers.timestamps import Clock
from aloft_admin.validation import projects as validate
from aloft_admin.validation.identifiers import validate_project_id
from aloft_service.errors import AlreadyExists, InvalidArgument, NotFound

INACTIVE_STATES = (project_pb2.Project.ARCHIVED, project_pb2.Project.SYSTEM_ARCHIVED)


class ProjectDomainCheck:
    """The check every registration and execution makes first, in its own transaction."""

    def __init__(self, domains: Sequence[DomainConfig], cache_ttl: float = 0.0) -> None:
        self._domain_ids = frozenset(d.id for d in domains)
        # (org, project) of projects found active; unregistered and archived ones are always read again.
        self._active: ReadCache[tuple[str, str], bool] = ReadCache(cache_ttl)

    def ensure_cached(self, project: str, domain: str, org: str = "") -> bool:
        """``ensure`` without a database: False when the project's state is not cached (call ``ensure`` then)."""
        found, _ = self._active.get((org, project))
        if found and domain not in self._domain_ids:
            raise InvalidArgument(f"domain [{domain}] is unrecognized by system")
        return found

    async def ensure(self, tx: Repositories, project: str, domain: str, org: str = "") -> None:
        """The project must be registered and active and the domain one of the configured domains."""
        key = (org, project)
        found, _ = self._active.get(key)
        if not found:
            generation = self._active.generation
            row = await tx.projects.get(project, org)
            if row is None:
                raise InvalidArgument(
                    f"failed to validate that project [{project}] and domain [{domain}] are registered, "
                    f"err: [project [{project}] not found]"
                )
            if row.state in INACTIVE_STATES:
                raise InvalidArgument(f"project [{project}] is not active", details=_inactive(project))
            self._active.put(key, True, generation)
        if domain not in self._domain_ids:
            raise InvalidArgument(f"domain [{domain}] is unrecognized by system")

    def forget(self) -> None:
        """A project changed (UpdateProject committed): read every project again."""
        self._active.invalidate()


def _inactive(project: str) -> project_pb2.InactiveProject:
    return project_pb2.InactiveProject(id=project)


class ProjectManager:
    def __init__(
        self, repos: RepositoryProvider, clock: Clock, domains: Sequence[DomainConfig], check: ProjectDomainCheck
    ) -> None:
        self._repos = repos
        self._clock = clock
        self._domains = list(domains)
        self._check = check

    def domains(self) -> list[project_pb2.Domain]:
        return [project_pb2.Domain(id=d.id, name=d.name) for d in self._domains]

    def get_domains(self) -> project_pb2.GetDomainsResponse:
        return project_pb2.GetDomainsResponse(domains=self.domains())

    async def register(self, request: project_pb2.ProjectRegisterRequest) -> project_pb2.ProjectRegisterResponse:
        validate.validate_register(request)
        async with self._repos.transaction() as tx:
            await self.insert(tx, request.project)
        return project_pb2.ProjectRegisterResponse()

    async def insert(self, tx: Repositories, project: project_pb2.Project) -> ProjectRow:
        if await tx.projects.get(project.id, project.org) is not None:
            raise AlreadyExists(f"project [{project.id}] already exists")
        row = transform.to_project_row(project, self._clock())
        await tx.projects.add(row)
        return row

    async def update(self, project: project_pb2.Project) -> project_pb2.ProjectUpdateResponse:
        validate.validate_project(project)
        try:
            async with self._repos.transaction() as tx:
                row = await self._get_row(tx, project.id, project.org)
                row.name = project.name or row.name
                row.description = project.description
                row.labels = project.labels.SerializeToString() if project.HasField("labels") else b""
                row.state = project.state
                row.updated_at = self._clock()
        finally:
            self._check.forget()  # committed (or not): this admin's next check reads the project again
        return project_pb2.ProjectUpdateResponse()

    async def get(self, request: project_pb2.ProjectGetRequest) -> project_pb2.Project:
        validate_project_id(request.id)
        async with self._repos.transaction() as tx:
            row = await self._get_row(tx, request.id, request.org)
        return transform.to_project(row, self.domains())

    async def list(self, request: project_pb2.ProjectListRequest) -> project_pb2.Projects:
        async with self._repos.transaction() as tx:
            rows, token = await tx.projects.page(request.org, ListQuery.of(request))
        domains = self.domains()
        return project_pb2.Projects(projects=[transform.to_project(r, domains) for r in rows], token=token)

    async def _get_row(self, tx: Repositories, project_id: str, org: str) -> ProjectRow:
        row = await tx.projects.get(project_id, org)
        if row is None:
            raise NotFound(f"project [{project_id}] not found")
        return row
