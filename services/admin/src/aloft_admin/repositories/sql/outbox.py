"""SQL persistence for the egress outbox. Every function works inside the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories.models.outbox import OutboxLeaseModel, OutboxModel


def add(session: AsyncSession, stream: str, kind: str, payload: bytes, now: datetime) -> None:
    """Queue one message in the caller's transaction (no I/O until the caller flushes or commits)."""
    session.add(OutboxModel(stream=stream, kind=kind, payload=payload, created_at=now, attempts=0, last_error=""))


async def head(session: AsyncSession, stream: str, limit: int) -> Sequence[OutboxModel]:
    """The oldest rows of a stream, in delivery order (due or not: an ordered stream waits for its head)."""
    stmt = select(OutboxModel).where(OutboxModel.stream == stream).order_by(OutboxModel.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def due(session: AsyncSession, stream: str, now: datetime, limit: int) -> Sequence[OutboxModel]:
    """Rows of a stream whose retry time has come, oldest first (an unordered stream skips backing-off rows)."""
    stmt = (
        select(OutboxModel)
        .where(OutboxModel.stream == stream, or_(OutboxModel.retry_at.is_(None), OutboxModel.retry_at <= now))
        .order_by(OutboxModel.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def remove(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(delete(OutboxModel).where(OutboxModel.id.in_(ids)))


async def defer(session: AsyncSession, row_id: int, attempts: int, retry_at: datetime, error: str) -> None:
    await session.execute(
        update(OutboxModel)
        .where(OutboxModel.id == row_id)
        .values(attempts=attempts, retry_at=retry_at, last_error=error[:2000])
    )


async def has_rows(session: AsyncSession, stream: str) -> bool:
    rows = await session.execute(select(OutboxModel.id).where(OutboxModel.stream == stream).limit(1))
    return rows.first() is not None


async def claim_lease(session: AsyncSession, stream: str, holder: str, now: datetime, until: datetime) -> bool:
    """Take or renew the stream's lease: true when ``holder`` owns it until ``until``. The conditional UPDATE is
    atomic on every backend; a concurrent first INSERT loses on the primary key (the caller's transaction fails
    and it retries on its next round)."""
    renewed = await session.execute(
        update(OutboxLeaseModel)
        .where(
            OutboxLeaseModel.stream == stream,
            or_(OutboxLeaseModel.holder == holder, OutboxLeaseModel.expires_at < now),
        )
        .values(holder=holder, expires_at=until)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    exists = await session.execute(select(OutboxLeaseModel.stream).where(OutboxLeaseModel.stream == stream))
    if exists.first() is not None:
        return False
    session.add(OutboxLeaseModel(stream=stream, holder=holder, expires_at=until))
    await session.flush()
    return True


async def release_lease(session: AsyncSession, stream: str, holder: str) -> None:
    await session.execute(
        delete(OutboxLeaseModel).where(OutboxLeaseModel.stream == stream, OutboxLeaseModel.holder == holder)
    )
