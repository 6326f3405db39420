"""SQL persistence for the egress outbox (OutboxRepo in base.py), bound to the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories.models.outbox import OutboxLeaseModel, OutboxModel


class SqlOutboxRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, stream: str, kind: str, payload: bytes, now: datetime) -> None:
        row = OutboxModel(stream=stream, kind=kind, payload=payload, created_at=now, attempts=0, last_error="")
        self.session.add(row)

    def after_commit(self, key: str, callback: Callable[[], None]) -> None:
        registered: set[str] = self.session.info.setdefault("outbox_after_commit", set())
        if key in registered:
            return
        registered.add(key)

        def run(_session: object) -> None:
            registered.discard(key)
            callback()

        event.listen(self.session.sync_session, "after_commit", run, once=True)

    async def has_rows(self, stream: str) -> bool:
        rows = await self.session.execute(select(OutboxModel.id).where(OutboxModel.stream == stream).limit(1))
        return rows.first() is not None

    async def head(self, stream: str, limit: int) -> list[OutboxModel]:
        stmt = select(OutboxModel).where(OutboxModel.stream == stream).order_by(OutboxModel.id).limit(limit)
        return list((await self.session.execute(stmt)).scalars().all())

    async def due(self, stream: str, now: datetime, limit: int) -> list[OutboxModel]:
        stmt = (
            select(OutboxModel)
            .where(OutboxModel.stream == stream, or_(OutboxModel.retry_at.is_(None), OutboxModel.retry_at <= now))
            .order_by(OutboxModel.id)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars().all())

    async def remove(self, ids: Sequence[int]) -> None:
        if ids:
            await self.session.execute(delete(OutboxModel).where(OutboxModel.id.in_(ids)))

    async def defer(self, row_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        await self.session.execute(
            update(OutboxModel)
            .where(OutboxModel.id == row_id)
            .values(attempts=attempts, retry_at=retry_at, last_error=error[:2000])
        )

    async def claim_lease(self, stream: str, holder: str, now: datetime, until: datetime) -> bool:
        # The conditional UPDATE is atomic on every backend; a concurrent first INSERT loses on the primary key
        # (its transaction fails with AlreadyExists and that dispatcher tries again next round).
        renewed = await self.session.execute(
            update(OutboxLeaseModel)
            .where(
                OutboxLeaseModel.stream == stream,
                or_(OutboxLeaseModel.holder == holder, OutboxLeaseModel.expires_at < now),
            )
            .values(holder=holder, expires_at=until)
        )
        if renewed.rowcount:  # type: ignore[attr-defined]
            return True
        exists = await self.session.execute(select(OutboxLeaseModel.stream).where(OutboxLeaseModel.stream == stream))
        if exists.first() is not None:
            return False
        self.session.add(OutboxLeaseModel(stream=stream, holder=holder, expires_at=until))
        await self.session.flush()
        return True

    async def release_lease(self, stream: str, holder: str) -> None:
        await self.session.execute(
            delete(OutboxLeaseModel).where(OutboxLeaseModel.stream == stream, OutboxLeaseModel.holder == holder)
        )
