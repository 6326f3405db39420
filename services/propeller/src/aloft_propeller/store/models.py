"""SQL schema of the workflow store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData()


class WorkflowRow(Base):
    __tablename__ = "propeller_workflows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), nullable=False)
    domain: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    shard_key: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    cluster: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    spec: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    status: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    resource_version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)
    terminal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        Index("ux_propeller_workflows_key", "project", "domain", "name", unique=True),
        Index("ix_propeller_workflows_terminal", "terminal"),
    )
