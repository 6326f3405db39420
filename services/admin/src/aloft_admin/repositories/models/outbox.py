"""The durable outbox of admin's egress (cloud events, notifications): rows are written in the same transaction as
the event that caused them and deleted once delivered, so a crash or an unreachable broker loses nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aloft_admin.repositories.models.base import Base


class OutboxModel(Base):
    """One message to deliver. ``stream`` names the consumer (``cloudevents``, ``notifications``); ``kind`` the
    protobuf message name of ``payload``; rows of a stream are delivered in ``id`` order."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_stream_id", "stream", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    stream: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(128))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # NULL: due now; otherwise not before (a failed delivery backing off).
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class OutboxLeaseModel(Base):
    """Which admin replica drains a stream (one at a time keeps per-entity order) and until when."""

    __tablename__ = "outbox_leases"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
