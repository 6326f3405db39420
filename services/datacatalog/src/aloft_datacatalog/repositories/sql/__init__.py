"""SQLAlchemy implementations of the repository Protocols, bound to one transaction at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aloft_datacatalog.repositories.base import Repositories
from aloft_datacatalog.repositories.sql.artifacts import SqlArtifactRepo
from aloft_datacatalog.repositories.sql.datasets import SqlDatasetRepo
from aloft_datacatalog.repositories.sql.reservations import SqlReservationRepo
from aloft_datacatalog.repositories.sql.tags import SqlTagRepo
from aloft_db import Database


class SqlRepositories:
    """``transaction()`` opens one database transaction and hands out repositories bound to it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repositories]:
        async with self.db.session() as session:
            yield Repositories(
                datasets=SqlDatasetRepo(session),
                artifacts=SqlArtifactRepo(session),
                tags=SqlTagRepo(session),
                reservations=SqlReservationRepo(session),
            )
