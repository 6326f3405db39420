"""SQL reservations. ``acquire`` is atomic on both backends without explicit locks:

1. ``INSERT … ON CONFLICT DO NOTHING`` grants a free key (a concurrent inserter waits on the unique index and then
   sees the conflict);
2. otherwise ``UPDATE … WHERE owner_id = me OR expires_at < now`` extends or takes over. PostgreSQL re-checks the
   WHERE clause against the newest row version after waiting for a concurrent updater, and SQLite runs one writer at a
   time, so two callers can never both match an expired row;
3. otherwise the current holder is read and returned.
A row deleted between the steps (a release) sends us round again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_datacatalog.repositories.keys import ReservationKey
from aloft_datacatalog.repositories.models import ReservationRow
from aloft_datacatalog.repositories.sql.dialect import upsert_insert
from aloft_service.errors import Aborted

_ATTEMPTS = 5


def _key_clauses(key: ReservationKey) -> list[Any]:
    ds = key.dataset
    return [
        ReservationRow.project == ds.project,
        ReservationRow.name == ds.name,
        ReservationRow.domain == ds.domain,
        ReservationRow.version == ds.version,
        ReservationRow.org == ds.org,
        ReservationRow.tag_name == key.tag_name,
    ]


def _key_values(key: ReservationKey) -> dict[str, str]:
    ds = key.dataset
    return {
        "project": ds.project,
        "name": ds.name,
        "domain": ds.domain,
        "version": ds.version,
        "org": ds.org,
        "tag_name": key.tag_name,
    }


class SqlReservationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def acquire(self, key: ReservationKey, owner_id: str, expires_at: datetime, now: datetime) -> ReservationRow:
        for _ in range(_ATTEMPTS):
            if not await self._insert(key, owner_id, expires_at, now):
                await self._take(key, owner_id, expires_at, now)
            current = await self.get(key)
            if current is not None:
                return current
        raise Aborted(f"reservation {key.dataset}/{key.tag_name} changed repeatedly while acquiring; retry")

    async def _insert(self, key: ReservationKey, owner_id: str, expires_at: datetime, now: datetime) -> bool:
        values = {**_key_values(key), "owner_id": owner_id, "expires_at": expires_at}
        stmt = upsert_insert(self._session, ReservationRow).values(
            **values, serialized_metadata=b"", created_at=now, updated_at=now
        )
        result: Any = await self._session.execute(stmt.on_conflict_do_nothing())
        return bool(result.rowcount == 1)

    async def _take(self, key: ReservationKey, owner_id: str, expires_at: datetime, now: datetime) -> bool:
        stmt = (
            update(ReservationRow)
            .where(*_key_clauses(key), or_(ReservationRow.owner_id == owner_id, ReservationRow.expires_at < now))
            .values(owner_id=owner_id, expires_at=expires_at, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result: Any = await self._session.execute(stmt)
        return bool(result.rowcount == 1)

    async def get(self, key: ReservationKey) -> ReservationRow | None:
        stmt = select(ReservationRow).where(*_key_clauses(key)).execution_options(populate_existing=True)
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def delete(self, key: ReservationKey, owner_id: str) -> bool:
        stmt = (
            delete(ReservationRow)
            .where(*_key_clauses(key), ReservationRow.owner_id == owner_id)
            .execution_options(synchronize_session=False)
        )
        result: Any = await self._session.execute(stmt)
        return bool(result.rowcount == 1)
