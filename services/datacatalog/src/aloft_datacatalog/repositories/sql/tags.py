"""SQL tags: one row per (dataset, tag name); AddTag upserts, so a tag moves to the newest artifact it names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aloft_datacatalog.repositories.models import ArtifactRow, DatasetRow, TagRow
from aloft_datacatalog.repositories.sql.dialect import upsert_insert


class SqlTagRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, dataset: DatasetRow, tag_name: str, artifact: ArtifactRow, now: datetime) -> None:
        stmt = upsert_insert(self._session, TagRow).values(
            dataset_id=dataset.id, tag_name=tag_name, artifact_pk=artifact.id, created_at=now, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[TagRow.dataset_id, TagRow.tag_name],
            set_={"artifact_pk": artifact.id, "updated_at": now},
        )
        await self._session.execute(stmt)
