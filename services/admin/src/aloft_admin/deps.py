"""What admin is assembled from, built once at start-up (server.py): config, database, blob store, clock, clients.

Only the assembly opens this bundle (``managers/registry.py``, server.py, the HTTP gateway): managers and servicers
are given the pieces they use, one by one, in their constructors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aloft_admin.auth.grants import PersistedGrants
from aloft_admin.background import BackgroundWork
from aloft_admin.config import AdminConfig
from aloft_admin.integrations.dataplane import DataPlaneClient, NoDataPlanes
from aloft_admin.integrations.egress import EventEgress, NoEgress
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.sql import SqlRepositories
from aloft_admin.transformers.timestamps import utcnow
from aloft_db import Database
from aloft_storage import BlobStore

if TYPE_CHECKING:
    from aloft_admin.auth.setup import AdminAuth


@dataclass
class AdminDeps:
    config: AdminConfig
    db: Database
    blobs: BlobStore
    clock: Callable[[], datetime] = utcnow
    # How admin hands executions to data planes (aloft.dataplane.v1): server.py builds it from config with
    # integrations.dataplane.build_dataplane_client; the default takes nothing (no data plane configured).
    dataplanes: DataPlaneClient = field(default_factory=NoDataPlanes)
    # Authentication and authorization (auth.enabled); None when auth is off.
    auth: AdminAuth | None = None
    # What accepted events cause outside admin (cloud events, notification emails): server.py builds it with
    # integrations.egress.build_event_egress; the default does nothing.
    egress: EventEgress = field(default_factory=NoEgress)
    # What requests start after their commit and do not wait for (hand-offs with admin.handoffInBackground).
    background: BackgroundWork = field(default_factory=BackgroundWork)
    # The unit of work managers are given: ``async with repos.transaction() as tx`` (repositories/base.py).
    repos: RepositoryProvider = field(init=False)

    def __post_init__(self) -> None:
        self.repos = SqlRepositories(self.db)
        if self.auth is not None and self.auth.server is not None:
            # The authorization server keeps its codes and refresh tokens in this database (restarts, replicas).
            self.auth.server.grants = PersistedGrants(self.repos)
