"""Rows for workflow, node and task executions (the ``executions`` migration branch).

Identity and the columns List filters/sorts on are real columns; spec and closure are serialized protobuf bytes.
Inputs live in the blob store (rows keep URIs). ``version`` is bumped on every update: writers compare it
(optimistic concurrency on SQLite; PostgreSQL also takes ``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aloft_admin.repositories.models.base import Base, Timestamps

# Integer primary keys that autoincrement on SQLite (INTEGER PRIMARY KEY) and PostgreSQL (BIGSERIAL).
PK = BigInteger().with_variant(Integer(), "sqlite")


class ExecutionModel(Timestamps, Base):
    __tablename__ = "executions"
    __table_args__ = (UniqueConstraint("org", "project", "domain", "name"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    org: Mapped[str] = mapped_column(String(255), default="")
    project: Mapped[str] = mapped_column(String(255), index=True)
    domain: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    # Launch plan / workflow / task identity, flattened so filters like ``launch_plan.name`` are column compares.
    launch_plan_project: Mapped[str] = mapped_column(String(255), default="")
    launch_plan_domain: Mapped[str] = mapped_column(String(255), default="")
    launch_plan_name: Mapped[str] = mapped_column(String(255), default="", index=True)
    launch_plan_version: Mapped[str] = mapped_column(String(255), default="")
    workflow_project: Mapped[str] = mapped_column(String(255), default="")
    workflow_domain: Mapped[str] = mapped_column(String(255), default="")
    workflow_name: Mapped[str] = mapped_column(String(255), default="", index=True)
    workflow_version: Mapped[str] = mapped_column(String(255), default="")
    task_name: Mapped[str] = mapped_column(String(255), default="")
    phase: Mapped[str] = mapped_column(String(32), index=True)
    mode: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[int] = mapped_column(Integer, default=0)  # admin ExecutionState (ACTIVE / ARCHIVED)
    principal: Mapped[str] = mapped_column(String(255), default="", index=True)
    cluster: Mapped[str] = mapped_column(String(255), default="")
    shard_key: Mapped[str] = mapped_column(String(255), default="")
    spec: Mapped[bytes] = mapped_column(LargeBinary)
    closure: Mapped[bytes] = mapped_column(LargeBinary)
    inputs_uri: Mapped[str] = mapped_column(Text, default="")
    user_inputs_uri: Mapped[str] = mapped_column(Text, default="")
    closure_uri: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds
    execution_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    execution_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error_kind: Mapped[str] = mapped_column(String(32), default="")
    error_code: Mapped[str] = mapped_column(String(255), default="")
    # Parent node execution (child executions) and the execution this one was relaunched/recovered from.
    parent_node_execution_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    source_execution_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tags: Mapped[str] = mapped_column(Text, default="")  # comma-separated admin tags
    # Hand-off to a data plane: "pending", "starting" once a data plane holds it (two-phase), "done" once released;
    # "cancelled" / "failed" end it. The repair loop retries pending and starting rows.
    handoff: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    handoff_attempts: Mapped[int] = mapped_column(Integer, default=0)
    handoff_error: Mapped[str] = mapped_column(Text, default="")
    # The serialized aloft.dataplane.v1 CreateExecutionRequest while the row is pending (the repair loop resends
    # it); NULL once a data plane holds the run, and in rows from before it was kept here (then it is a blob).
    handoff_request: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, default=None)
    # Abort requested but not yet acknowledged by the data plane.
    abort_pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    abort_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # After a failed hand-off or abort: not retried before this (exponential backoff). The repair loop takes due
    # rows oldest-due first, so rows that keep failing move back and never starve newer ones.
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


# ExecutionModel's attributes a new row may give (its id is the database's).
_NEW_EXECUTION_ATTRIBUTES = frozenset(ExecutionModel.__table__.columns.keys()) - {"id"}


@dataclass(eq=False, slots=True)
class NewExecution:
    """A new execution row for the grouped INSERT (``RepositoryProvider.insert_executions``): its values by
    ``ExecutionModel`` attribute (unset ones take their columns' defaults) and, once inserted, its id.

    A plain object, not an ORM instance: the INSERT only reads the values, and building an ``ExecutionModel`` (an
    instance state and one instrumented attribute set per column) cost more CPU than the rest of the row's work."""

    values: dict[str, Any]
    id: int | None = None

    def __post_init__(self) -> None:
        unknown = self.values.keys() - _NEW_EXECUTION_ATTRIBUTES
        if unknown:
            raise ValueError(f"not columns of a new execution: {sorted(unknown)}")

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(org, project, domain, name): what the INSERT's ON CONFLICT and RETURNING name the row by."""
        values = self.values
        return values.get("org") or "", values["project"], values["domain"], values["name"]


class NodeExecutionModel(Timestamps, Base):
    __tablename__ = "node_executions"
    __table_args__ = (
        UniqueConstraint("execution_org", "execution_project", "execution_domain", "execution_name", "node_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    execution_org: Mapped[str] = mapped_column(String(255), default="")
    execution_project: Mapped[str] = mapped_column(String(255))
    execution_domain: Mapped[str] = mapped_column(String(255))
    execution_name: Mapped[str] = mapped_column(String(255), index=True)
    node_id: Mapped[str] = mapped_column(String(255))
    phase: Mapped[str] = mapped_column(String(32), index=True)
    input_uri: Mapped[str] = mapped_column(Text, default="")
    closure: Mapped[bytes] = mapped_column(LargeBinary)
    metadata_: Mapped[bytes] = mapped_column("node_execution_metadata", LargeBinary)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    node_execution_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    node_execution_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Parent/child relations: a node inside a subworkflow/dynamic/array parent, or launched by a task (parent task).
    parent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    parent_task_execution_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    dynamic_workflow_remote_closure_reference: Mapped[str] = mapped_column(Text, default="")
    error_kind: Mapped[str] = mapped_column(String(32), default="")
    error_code: Mapped[str] = mapped_column(String(255), default="")
    cache_status: Mapped[str] = mapped_column(String(32), default="")
    event_version: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class TaskExecutionModel(Timestamps, Base):
    __tablename__ = "task_executions"
    __table_args__ = (
        UniqueConstraint(
            "execution_org",
            "execution_project",
            "execution_domain",
            "execution_name",
            "node_id",
            "task_project",
            "task_domain",
            "task_name",
            "task_version",
            "retry_attempt",
        ),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    execution_org: Mapped[str] = mapped_column(String(255), default="")
    execution_project: Mapped[str] = mapped_column(String(255))
    execution_domain: Mapped[str] = mapped_column(String(255))
    execution_name: Mapped[str] = mapped_column(String(255), index=True)
    node_id: Mapped[str] = mapped_column(String(255))
    task_project: Mapped[str] = mapped_column(String(255))
    task_domain: Mapped[str] = mapped_column(String(255))
    task_name: Mapped[str] = mapped_column(String(255))
    task_version: Mapped[str] = mapped_column(String(255))
    task_org: Mapped[str] = mapped_column(String(255), default="")
    retry_attempt: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(32), index=True)
    phase_version: Mapped[int] = mapped_column(Integer, default=0)
    input_uri: Mapped[str] = mapped_column(Text, default="")
    closure: Mapped[bytes] = mapped_column(LargeBinary)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    task_execution_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    task_execution_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    is_parent: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
