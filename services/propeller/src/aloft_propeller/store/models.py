"""SQL schema of the workflow store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text
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
    # The workflow's own fields (``state.encode_scalars``); nodes and outbox events are rows of their own.
    status: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    resource_version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)
    terminal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        Index("ux_propeller_workflows_key", "project", "domain", "name", unique=True),
        Index("ix_propeller_workflows_terminal", "terminal"),
    )


class NodeStateRow(Base):
    """One node's state (``state.encode_node``), written only in the rounds that change it."""

    __tablename__ = "propeller_node_states"

    workflow_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("propeller_workflows.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    state: Mapped[str] = mapped_column(Text, nullable=False)


class OutboxEventRow(Base):
    """One event decided but not yet acknowledged by admin, in order of ``seq``; deleted once delivered."""

    __tablename__ = "propeller_outbox_events"

    workflow_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("propeller_workflows.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    event_group: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
