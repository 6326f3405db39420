"""Signals (gate nodes' external inputs): one row per (execution, signal id)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aloft_admin.repositories.models.base import Base, Timestamps


class SignalModel(Timestamps, Base):
    """``type`` is a serialized core.LiteralType; ``value`` a serialized core.Literal, NULL until SetSignal."""

    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint(
            "execution_project",
            "execution_domain",
            "execution_name",
            "execution_org",
            "signal_id",
            name="uq_signals_key",
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    execution_project: Mapped[str] = mapped_column(String(255), index=True)
    execution_domain: Mapped[str] = mapped_column(String(255), index=True)
    execution_name: Mapped[str] = mapped_column(String(255), index=True)
    execution_org: Mapped[str] = mapped_column(String(255), default="")
    signal_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[bytes] = mapped_column(LargeBinary)
    value: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
