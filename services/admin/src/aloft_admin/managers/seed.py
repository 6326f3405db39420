"""First-start defaults: the projects listed in ``admin.seedProjects`` exist (``flytesnacks`` as on a sandbox)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flyteidl.admin import project_pb2

from aloft_admin.managers.projects import ProjectManager
from aloft_admin.repositories.base import RepositoryProvider
from aloft_service.errors import AlreadyExists

log = logging.getLogger(__name__)


async def seed_defaults(repos: RepositoryProvider, projects: ProjectManager, project_ids: Sequence[str]) -> None:
    """Create the seed projects if missing (idempotent; a concurrent starter creating one first is fine)."""
    for project_id in project_ids:
        try:
            async with repos.transaction() as tx:
                if await tx.projects.get(project_id) is None:
                    await projects.insert(tx, project_pb2.Project(id=project_id, name=project_id))
                    log.info("seeded project %s", project_id)
        except AlreadyExists:
            pass
