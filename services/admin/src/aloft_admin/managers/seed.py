"""First-start defaults: the projects listed in ``admin.seedProjects`` exist (``flytesnacks`` as on a sandbox)."""

from __future__ import annotations

from aloft_admin.deps import AdminDeps


async def seed_defaults(deps: AdminDeps) -> None:
    """Create the seed projects if missing (idempotent)."""
