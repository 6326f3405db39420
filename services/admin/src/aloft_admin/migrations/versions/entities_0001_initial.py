"""entities: projects, tasks, workflows, launch plans, named entities, description entities, matchable attributes.

Revision ID: entities_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "entities_0001"
down_revision = None
branch_labels = ("entities",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "description_entities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.Integer(), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("short_description", sa.Text(), nullable=False),
        sa.Column("entity", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_description_entities")),
        sa.UniqueConstraint(
            "resource_type", "project", "domain", "name", "version", "org", name="uq_description_entities_identity"
        ),
    )
    op.create_index(op.f("ix_description_entities_created_at"), "description_entities", ["created_at"], unique=False)
    op.create_index(op.f("ix_description_entities_domain"), "description_entities", ["domain"], unique=False)
    op.create_index(op.f("ix_description_entities_name"), "description_entities", ["name"], unique=False)
    op.create_index(op.f("ix_description_entities_project"), "description_entities", ["project"], unique=False)
    op.create_table(
        "launch_plans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.LargeBinary(), nullable=False),
        sa.Column("closure", sa.LargeBinary(), nullable=False),
        sa.Column("workflow_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("schedule_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_launch_plans")),
        sa.UniqueConstraint(
            "project", "domain", "name", "version", "org", name=op.f("uq_launch_plans_project_domain_name_version_org")
        ),
    )
    op.create_index(op.f("ix_launch_plans_created_at"), "launch_plans", ["created_at"], unique=False)
    op.create_index(op.f("ix_launch_plans_domain"), "launch_plans", ["domain"], unique=False)
    op.create_index(op.f("ix_launch_plans_name"), "launch_plans", ["name"], unique=False)
    op.create_index(op.f("ix_launch_plans_project"), "launch_plans", ["project"], unique=False)
    op.create_index(op.f("ix_launch_plans_state"), "launch_plans", ["state"], unique=False)
    op.create_index(
        "uq_launch_plans_one_active",
        "launch_plans",
        ["project", "domain", "name", "org"],
        unique=True,
        postgresql_where=sa.text("state = 1"),
        sqlite_where=sa.text("state = 1"),
    )
    op.create_index(op.f("ix_launch_plans_workflow_id"), "launch_plans", ["workflow_id"], unique=False)
    op.create_table(
        "named_entity_metadata",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.Integer(), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_named_entity_metadata")),
        sa.UniqueConstraint(
            "resource_type",
            "project",
            "domain",
            "name",
            "org",
            name=op.f("uq_named_entity_metadata_resource_type_project_domain_name_org"),
        ),
    )
    op.create_index(op.f("ix_named_entity_metadata_created_at"), "named_entity_metadata", ["created_at"], unique=False)
    op.create_index(op.f("ix_named_entity_metadata_domain"), "named_entity_metadata", ["domain"], unique=False)
    op.create_index(op.f("ix_named_entity_metadata_project"), "named_entity_metadata", ["project"], unique=False)
    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("labels", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("org", "identifier", name=op.f("uq_projects_org_identifier")),
    )
    op.create_index(op.f("ix_projects_created_at"), "projects", ["created_at"], unique=False)
    op.create_index(op.f("ix_projects_state"), "projects", ["state"], unique=False)
    op.create_table(
        "resources",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("workflow", sa.String(length=255), nullable=False),
        sa.Column("launch_plan", sa.String(length=255), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint(
            "org", "project", "domain", "workflow", "launch_plan", "resource_type", name="uq_resources_scope"
        ),
    )
    op.create_index(op.f("ix_resources_created_at"), "resources", ["created_at"], unique=False)
    op.create_index(op.f("ix_resources_project"), "resources", ["project"], unique=False)
    op.create_index(op.f("ix_resources_resource_type"), "resources", ["resource_type"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("closure", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("short_description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint(
            "project", "domain", "name", "version", "org", name=op.f("uq_tasks_project_domain_name_version_org")
        ),
    )
    op.create_index(op.f("ix_tasks_created_at"), "tasks", ["created_at"], unique=False)
    op.create_index(op.f("ix_tasks_domain"), "tasks", ["domain"], unique=False)
    op.create_index(op.f("ix_tasks_name"), "tasks", ["name"], unique=False)
    op.create_index(op.f("ix_tasks_project"), "tasks", ["project"], unique=False)
    op.create_table(
        "workflows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("typed_interface", sa.LargeBinary(), nullable=False),
        sa.Column("remote_closure_uri", sa.Text(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("short_description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint(
            "project", "domain", "name", "version", "org", name=op.f("uq_workflows_project_domain_name_version_org")
        ),
    )
    op.create_index(op.f("ix_workflows_created_at"), "workflows", ["created_at"], unique=False)
    op.create_index(op.f("ix_workflows_domain"), "workflows", ["domain"], unique=False)
    op.create_index(op.f("ix_workflows_name"), "workflows", ["name"], unique=False)
    op.create_index(op.f("ix_workflows_project"), "workflows", ["project"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_workflows_project"), table_name="workflows")
    op.drop_index(op.f("ix_workflows_name"), table_name="workflows")
    op.drop_index(op.f("ix_workflows_domain"), table_name="workflows")
    op.drop_index(op.f("ix_workflows_created_at"), table_name="workflows")
    op.drop_table("workflows")
    op.drop_index(op.f("ix_tasks_project"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_name"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_domain"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_created_at"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_resources_resource_type"), table_name="resources")
    op.drop_index(op.f("ix_resources_project"), table_name="resources")
    op.drop_index(op.f("ix_resources_created_at"), table_name="resources")
    op.drop_table("resources")
    op.drop_index(op.f("ix_projects_state"), table_name="projects")
    op.drop_index(op.f("ix_projects_created_at"), table_name="projects")
    op.drop_table("projects")
    op.drop_index(op.f("ix_named_entity_metadata_project"), table_name="named_entity_metadata")
    op.drop_index(op.f("ix_named_entity_metadata_domain"), table_name="named_entity_metadata")
    op.drop_index(op.f("ix_named_entity_metadata_created_at"), table_name="named_entity_metadata")
    op.drop_table("named_entity_metadata")
    op.drop_index("uq_launch_plans_one_active", table_name="launch_plans")
    op.drop_index(op.f("ix_launch_plans_workflow_id"), table_name="launch_plans")
    op.drop_index(op.f("ix_launch_plans_state"), table_name="launch_plans")
    op.drop_index(op.f("ix_launch_plans_project"), table_name="launch_plans")
    op.drop_index(op.f("ix_launch_plans_name"), table_name="launch_plans")
    op.drop_index(op.f("ix_launch_plans_domain"), table_name="launch_plans")
    op.drop_index(op.f("ix_launch_plans_created_at"), table_name="launch_plans")
    op.drop_table("launch_plans")
    op.drop_index(op.f("ix_description_entities_project"), table_name="description_entities")
    op.drop_index(op.f("ix_description_entities_name"), table_name="description_entities")
    op.drop_index(op.f("ix_description_entities_domain"), table_name="description_entities")
    op.drop_index(op.f("ix_description_entities_created_at"), table_name="description_entities")
    op.drop_table("description_entities")
