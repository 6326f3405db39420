"""Authorization codes and refresh tokens of admin's authorization server (auth.appAuth.selfAuthServer): kept in
the database so they survive a restart and any replica can redeem what another issued. Only a SHA-256 hash of the
code or token is stored: the database never holds a usable credential."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from aloft_admin.repositories.models.base import Base

CODE = "code"
REFRESH_TOKEN = "refresh_token"


class OAuthGrantModel(Base):
    """``kind`` is ``code`` or ``refresh_token``; ``payload`` is JSON: the user (subject, groups, name, email), the
    scope and, for a code, its redirect URI and PKCE challenge."""

    __tablename__ = "oauth_grants"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
