"""SQL datasets."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from aloft_datacatalog.repositories.keys import DatasetFilter, DatasetKey, Page
from aloft_datacatalog.repositories.models import DatasetRow


def dataset_is(key: DatasetKey) -> list[ColumnElement[bool]]:
    return [
        DatasetRow.project == key.project,
        DatasetRow.name == key.name,
        DatasetRow.domain == key.domain,
        DatasetRow.version == key.version,
        DatasetRow.org == key.org,
    ]


class SqlDatasetRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, row: DatasetRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(self, key: DatasetKey) -> DatasetRow | None:
        stmt = select(DatasetRow).where(*dataset_is(key)).options(selectinload(DatasetRow.partition_keys))
        result = await self._session.execute(stmt)
        return result.scalars().one_or_none()

    async def find(self, where: DatasetFilter, page: Page) -> list[DatasetRow]:
        stmt = select(DatasetRow).options(selectinload(DatasetRow.partition_keys))
        for column, value in sorted(where.equals.items()):
            stmt = stmt.where(getattr(DatasetRow, column) == value)
        order = (
            (DatasetRow.created_at.asc(), DatasetRow.id.asc())
            if page.ascending
            else (
                DatasetRow.created_at.desc(),
                DatasetRow.id.desc(),
            )
        )
        result = await self._session.execute(stmt.order_by(*order).offset(page.offset).limit(page.limit))
        return list(result.scalars().all())
