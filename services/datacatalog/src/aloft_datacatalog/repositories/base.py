"""Repository Protocols. Every call runs inside the caller's transaction (one ``Repositories`` per transaction).

Invariants the SQL implementations keep:
- dataset identity (project, name, domain, version, org) is unique; artifacts are unique per (dataset, artifact id);
  a tag name is unique per dataset and points at exactly one artifact.
- ``create_*`` raise ``AlreadyExists`` on a duplicate identity (mapped once by aloft_db from the unique violation).
- ``get_*`` return ``None`` when the row is absent; managers turn that into ``NotFound`` naming the id.
- ``acquire`` is atomic: for one reservation key at most one owner holds an unexpired reservation, whatever the
  number of concurrent callers.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aloft_datacatalog.repositories.keys import ArtifactFilter, DatasetFilter, DatasetKey, Page, ReservationKey
from aloft_datacatalog.repositories.models import ArtifactDataRow, ArtifactRow, DatasetRow, ReservationRow


class DatasetRepo(Protocol):
    async def create(self, row: DatasetRow) -> None: ...

    async def get(self, key: DatasetKey) -> DatasetRow | None: ...

    async def find(self, where: DatasetFilter, page: Page) -> list[DatasetRow]: ...


class ArtifactRepo(Protocol):
    async def create(self, row: ArtifactRow) -> None:
        """Insert the artifact with its data locations and partitions; flushes so duplicates fail here."""

    async def get(self, dataset: DatasetRow, artifact_id: str) -> ArtifactRow | None: ...

    async def get_by_tag(self, key: DatasetKey, tag_name: str) -> ArtifactRow | None: ...

    async def find(self, dataset: DatasetRow, where: ArtifactFilter, page: Page) -> list[ArtifactRow]: ...

    async def replace_data(
        self, artifact: ArtifactRow, data: list[ArtifactDataRow], metadata: bytes | None, now: datetime
    ) -> None:
        """Make ``data`` the artifact's complete data set (and ``metadata`` its metadata when given)."""


class TagRepo(Protocol):
    async def put(self, dataset: DatasetRow, tag_name: str, artifact: ArtifactRow, now: datetime) -> None:
        """Point the tag at the artifact, creating the tag or moving it from another artifact."""


class ReservationRepo(Protocol):
    async def acquire(self, key: ReservationKey, owner_id: str, expires_at: datetime, now: datetime) -> ReservationRow:
        """Grant or extend the reservation to ``owner_id`` if it is free, expired or already theirs.

        Returns the reservation as it stands afterwards: owned by ``owner_id`` when granted, else by the holder.
        """

    async def get(self, key: ReservationKey) -> ReservationRow | None: ...

    async def delete(self, key: ReservationKey, owner_id: str) -> bool:
        """Delete the reservation if ``owner_id`` holds it; True when a row was deleted."""


@dataclass
class Repositories:
    datasets: DatasetRepo
    artifacts: ArtifactRepo
    tags: TagRepo
    reservations: ReservationRepo


class RepositoryProvider(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Repositories]:
        """One unit of work: committed when the block succeeds, rolled back otherwise."""
