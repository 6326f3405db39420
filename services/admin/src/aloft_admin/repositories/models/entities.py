"""Rows for projects, tasks, workflows, launch plans, named entities, description entities and matchable attributes.

Shape follows flyteadmin's models (pkg/repositories/models): identity columns (project, domain, name, version,
org) are real columns with a unique constraint; specs/closures are serialized protobuf bytes; a workflow's
compiled closure lives in the blob store and its row keeps the URI (``remote_closure_uri``).
No foreign keys leave this area.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from aloft_admin.repositories.models.base import Base, Timestamps

_NAME = 255


class ProjectRow(Timestamps, Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("org", "identifier"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    identifier: Mapped[str] = mapped_column(String(_NAME))
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    name: Mapped[str] = mapped_column(String(_NAME), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    state: Mapped[int] = mapped_column(Integer, default=0, index=True)


class TaskRow(Timestamps, Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("project", "domain", "name", "version", "org"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(_NAME), index=True)
    domain: Mapped[str] = mapped_column(String(_NAME), index=True)
    name: Mapped[str] = mapped_column(String(_NAME), index=True)
    version: Mapped[str] = mapped_column(String(_NAME))
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    closure: Mapped[bytes] = mapped_column(LargeBinary)  # admin.TaskClosure
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    type: Mapped[str] = mapped_column(String(_NAME), default="")
    short_description: Mapped[str] = mapped_column(Text, default="")


class WorkflowRow(Timestamps, Base):
    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("project", "domain", "name", "version", "org"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(_NAME), index=True)
    domain: Mapped[str] = mapped_column(String(_NAME), index=True)
    name: Mapped[str] = mapped_column(String(_NAME), index=True)
    version: Mapped[str] = mapped_column(String(_NAME))
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    typed_interface: Mapped[bytes] = mapped_column(LargeBinary, default=b"")  # core.TypedInterface
    remote_closure_uri: Mapped[str] = mapped_column(Text)  # core.CompiledWorkflowClosure in the blob store
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    short_description: Mapped[str] = mapped_column(Text, default="")


class LaunchPlanRow(Timestamps, Base):
    __tablename__ = "launch_plans"
    __table_args__ = (
        UniqueConstraint("project", "domain", "name", "version", "org"),
        # At most one ACTIVE version per launch plan name, enforced by the database under concurrency.
        Index(
            "uq_launch_plans_one_active",
            "project",
            "domain",
            "name",
            "org",
            unique=True,
            postgresql_where=text("state = 1"),
            sqlite_where=text("state = 1"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(_NAME), index=True)
    domain: Mapped[str] = mapped_column(String(_NAME), index=True)
    name: Mapped[str] = mapped_column(String(_NAME), index=True)
    version: Mapped[str] = mapped_column(String(_NAME))
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    spec: Mapped[bytes] = mapped_column(LargeBinary)  # admin.LaunchPlanSpec
    closure: Mapped[bytes] = mapped_column(LargeBinary)  # admin.LaunchPlanClosure
    workflow_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    state: Mapped[int] = mapped_column(Integer, default=0, index=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    schedule_type: Mapped[str] = mapped_column(String(32), default="NONE")


class NamedEntityRow(Timestamps, Base):
    """Metadata (description, state) of a (resource type, project, domain, name); created on first registration."""

    __tablename__ = "named_entity_metadata"
    __table_args__ = (UniqueConstraint("resource_type", "project", "domain", "name", "org"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    resource_type: Mapped[int] = mapped_column(Integer)
    project: Mapped[str] = mapped_column(String(_NAME), index=True)
    domain: Mapped[str] = mapped_column(String(_NAME), index=True)
    name: Mapped[str] = mapped_column(String(_NAME))
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[int] = mapped_column(Integer, default=0)


class DescriptionEntityRow(Timestamps, Base):
    __tablename__ = "description_entities"
    __table_args__ = (
        UniqueConstraint(
            "resource_type", "project", "domain", "name", "version", "org", name="uq_description_entities_identity"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    resource_type: Mapped[int] = mapped_column(Integer)
    project: Mapped[str] = mapped_column(String(_NAME), index=True)
    domain: Mapped[str] = mapped_column(String(_NAME), index=True)
    name: Mapped[str] = mapped_column(String(_NAME), index=True)
    version: Mapped[str] = mapped_column(String(_NAME))
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    short_description: Mapped[str] = mapped_column(Text, default="")
    entity: Mapped[bytes] = mapped_column(LargeBinary)  # admin.DescriptionEntity


class MatchableAttributeRow(Timestamps, Base):
    """One MatchingAttributes value for a scope: project ('' domain) < project+domain < workflow < launch plan.

    Domain-only scopes (project '') come from config; rows always name at least a project.
    """

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint(
            "org", "project", "domain", "workflow", "launch_plan", "resource_type", name="uq_resources_scope"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    project: Mapped[str] = mapped_column(String(_NAME), index=True)
    domain: Mapped[str] = mapped_column(String(_NAME), default="")
    workflow: Mapped[str] = mapped_column(String(_NAME), default="")
    launch_plan: Mapped[str] = mapped_column(String(_NAME), default="")
    resource_type: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attributes: Mapped[bytes] = mapped_column(LargeBinary)  # admin.MatchingAttributes
