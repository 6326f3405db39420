"""SQL persistence of the authorization server's codes and refresh tokens (inside the caller's transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories.models.oauth import OAuthGrantModel


class SqlOAuthGrantRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: OAuthGrantModel) -> None:
        self._session.add(row)

    async def get(self, kind: str, key_hash: str, client_id: str, now: datetime) -> OAuthGrantModel | None:
        stmt = select(OAuthGrantModel).where(
            OAuthGrantModel.kind == kind,
            OAuthGrantModel.key_hash == key_hash,
            OAuthGrantModel.client_id == client_id,
            OAuthGrantModel.expires_at > now,
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def consume(self, kind: str, key_hash: str) -> bool:
        # A single conditional DELETE: of two concurrent redemptions (any replica) exactly one deletes the row.
        stmt = delete(OAuthGrantModel).where(OAuthGrantModel.kind == kind, OAuthGrantModel.key_hash == key_hash)
        result = await self._session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def sweep(self, now: datetime) -> int:
        result = await self._session.execute(delete(OAuthGrantModel).where(OAuthGrantModel.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
