"""SQL artifacts: the artifact row, its data locations and partitions; tags are read through the tags table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from aloft_datacatalog.repositories.keys import ArtifactFilter, DatasetKey, Page
from aloft_datacatalog.repositories.models import ArtifactDataRow, ArtifactRow, DatasetRow, PartitionRow, TagRow
from aloft_datacatalog.repositories.sql.datasets import dataset_is

# One artifact: a single query with its (few) data entries, partitions and tags joined in.
_WHOLE_ONE = (joinedload(ArtifactRow.data), joinedload(ArtifactRow.partitions), joinedload(ArtifactRow.tags))
# Pages of artifacts: one extra query per collection, whatever the page size.
_WHOLE_MANY = (selectinload(ArtifactRow.data), selectinload(ArtifactRow.partitions), selectinload(ArtifactRow.tags))


class SqlArtifactRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, row: ArtifactRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(self, dataset: DatasetRow, artifact_id: str) -> ArtifactRow | None:
        stmt = select(ArtifactRow).where(ArtifactRow.dataset_id == dataset.id, ArtifactRow.artifact_id == artifact_id)
        return (await self._session.execute(stmt.options(*_WHOLE_ONE))).unique().scalar_one_or_none()

    async def get_by_tag(self, key: DatasetKey, tag_name: str) -> ArtifactRow | None:
        tagged = (
            select(TagRow.artifact_pk)
            .join(DatasetRow, DatasetRow.id == TagRow.dataset_id)
            .where(*dataset_is(key), TagRow.tag_name == tag_name)
            .scalar_subquery()
        )
        stmt = select(ArtifactRow).where(ArtifactRow.id == tagged)
        return (await self._session.execute(stmt.options(*_WHOLE_ONE))).unique().scalar_one_or_none()

    async def find(self, dataset: DatasetRow, where: ArtifactFilter, page: Page) -> list[ArtifactRow]:
        stmt = select(ArtifactRow).where(ArtifactRow.dataset_id == dataset.id).options(*_WHOLE_MANY)
        for key, value in where.partitions:
            stmt = stmt.where(
                exists().where(
                    PartitionRow.artifact_pk == ArtifactRow.id, PartitionRow.key == key, PartitionRow.value == value
                )
            )
        for tag_name in where.tag_names:
            stmt = stmt.where(
                exists().where(
                    TagRow.artifact_pk == ArtifactRow.id, TagRow.dataset_id == dataset.id, TagRow.tag_name == tag_name
                )
            )
        for artifact_id in where.artifact_ids:
            stmt = stmt.where(ArtifactRow.artifact_id == artifact_id)
        if page.ascending:
            stmt = stmt.order_by(ArtifactRow.created_at.asc(), ArtifactRow.id.asc())
        else:
            stmt = stmt.order_by(ArtifactRow.created_at.desc(), ArtifactRow.id.desc())
        result = await self._session.execute(stmt.offset(page.offset).limit(page.limit))
        return list(result.scalars().all())

    async def replace_data(
        self, artifact: ArtifactRow, data: list[ArtifactDataRow], metadata: bytes | None, now: datetime
    ) -> None:
        # Plain DELETE then INSERT: the ORM would insert a same-named entry before deleting the old one.
        await self._session.execute(delete(ArtifactDataRow).where(ArtifactDataRow.artifact_pk == artifact.id))
        rows = [
            {"artifact_pk": artifact.id, "name": d.name, "position": d.position, "location": d.location} for d in data
        ]
        if rows:
            await self._session.execute(insert(ArtifactDataRow), rows)
        artifact.updated_at = now
        if metadata is not None:
            artifact.serialized_metadata = metadata
        await self._session.flush()
        self._session.expire(artifact, ["data"])
