"""executions: workflow, node and task execution tables

Revision ID: executions_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "executions_0001"
down_revision = None
branch_labels = ("executions",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("launch_plan_project", sa.String(length=255), nullable=False),
        sa.Column("launch_plan_domain", sa.String(length=255), nullable=False),
        sa.Column("launch_plan_name", sa.String(length=255), nullable=False),
        sa.Column("launch_plan_version", sa.String(length=255), nullable=False),
        sa.Column("workflow_project", sa.String(length=255), nullable=False),
        sa.Column("workflow_domain", sa.String(length=255), nullable=False),
        sa.Column("workflow_name", sa.String(length=255), nullable=False),
        sa.Column("workflow_version", sa.String(length=255), nullable=False),
        sa.Column("task_name", sa.String(length=255), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.Integer(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=255), nullable=False),
        sa.Column("cluster", sa.String(length=255), nullable=False),
        sa.Column("shard_key", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.LargeBinary(), nullable=False),
        sa.Column("closure", sa.LargeBinary(), nullable=False),
        sa.Column("inputs_uri", sa.Text(), nullable=False),
        sa.Column("user_inputs_uri", sa.Text(), nullable=False),
        sa.Column("closure_uri", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("execution_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_kind", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=255), nullable=False),
        sa.Column("parent_node_execution_id", sa.BigInteger(), nullable=True),
        sa.Column("source_execution_id", sa.BigInteger(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("handoff", sa.String(length=16), nullable=False),
        sa.Column("handoff_attempts", sa.Integer(), nullable=False),
        sa.Column("handoff_error", sa.Text(), nullable=False),
        sa.Column("abort_pending", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
        sa.UniqueConstraint("org", "project", "domain", "name", name=op.f("uq_executions_org_project_domain_name")),
    )
    op.create_index(op.f("ix_executions_abort_pending"), "executions", ["abort_pending"], unique=False)
    op.create_index(op.f("ix_executions_created_at"), "executions", ["created_at"], unique=False)
    op.create_index(op.f("ix_executions_domain"), "executions", ["domain"], unique=False)
    op.create_index(op.f("ix_executions_handoff"), "executions", ["handoff"], unique=False)
    op.create_index(op.f("ix_executions_launch_plan_name"), "executions", ["launch_plan_name"], unique=False)
    op.create_index(op.f("ix_executions_name"), "executions", ["name"], unique=False)
    op.create_index(op.f("ix_executions_phase"), "executions", ["phase"], unique=False)
    op.create_index(op.f("ix_executions_principal"), "executions", ["principal"], unique=False)
    op.create_index(op.f("ix_executions_project"), "executions", ["project"], unique=False)
    op.create_index(op.f("ix_executions_workflow_name"), "executions", ["workflow_name"], unique=False)
    op.create_table(
        "node_executions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("execution_org", sa.String(length=255), nullable=False),
        sa.Column("execution_project", sa.String(length=255), nullable=False),
        sa.Column("execution_domain", sa.String(length=255), nullable=False),
        sa.Column("execution_name", sa.String(length=255), nullable=False),
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("input_uri", sa.Text(), nullable=False),
        sa.Column("closure", sa.LargeBinary(), nullable=False),
        sa.Column("node_execution_metadata", sa.LargeBinary(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("node_execution_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("node_execution_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_task_execution_id", sa.BigInteger(), nullable=True),
        sa.Column("dynamic_workflow_remote_closure_reference", sa.Text(), nullable=False),
        sa.Column("error_kind", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=255), nullable=False),
        sa.Column("cache_status", sa.String(length=32), nullable=False),
        sa.Column("event_version", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_executions")),
        sa.UniqueConstraint(
            "execution_org",
            "execution_project",
            "execution_domain",
            "execution_name",
            "node_id",
            name=op.f("uq_node_executions_execution_org_execution_project_execution_domain_execution_name_node_id"),
        ),
    )
    op.create_index(op.f("ix_node_executions_created_at"), "node_executions", ["created_at"], unique=False)
    op.create_index(op.f("ix_node_executions_execution_name"), "node_executions", ["execution_name"], unique=False)
    op.create_index(op.f("ix_node_executions_parent_id"), "node_executions", ["parent_id"], unique=False)
    op.create_index(
        op.f("ix_node_executions_parent_task_execution_id"),
        "node_executions",
        ["parent_task_execution_id"],
        unique=False,
    )
    op.create_index(op.f("ix_node_executions_phase"), "node_executions", ["phase"], unique=False)
    op.create_table(
        "task_executions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("execution_org", sa.String(length=255), nullable=False),
        sa.Column("execution_project", sa.String(length=255), nullable=False),
        sa.Column("execution_domain", sa.String(length=255), nullable=False),
        sa.Column("execution_name", sa.String(length=255), nullable=False),
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column("task_project", sa.String(length=255), nullable=False),
        sa.Column("task_domain", sa.String(length=255), nullable=False),
        sa.Column("task_name", sa.String(length=255), nullable=False),
        sa.Column("task_version", sa.String(length=255), nullable=False),
        sa.Column("task_org", sa.String(length=255), nullable=False),
        sa.Column("retry_attempt", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("phase_version", sa.Integer(), nullable=False),
        sa.Column("input_uri", sa.Text(), nullable=False),
        sa.Column("closure", sa.LargeBinary(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("task_execution_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task_execution_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_parent", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_executions")),
        sa.UniqueConstraint(
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
            name=op.f(
                "uq_task_executions_execution_org_execution_project_execution_domain_execution_name_node_id_task_project_task_domain_task_name_task_version_retry_attempt"
            ),
        ),
    )
    op.create_index(op.f("ix_task_executions_created_at"), "task_executions", ["created_at"], unique=False)
    op.create_index(op.f("ix_task_executions_execution_name"), "task_executions", ["execution_name"], unique=False)
    op.create_index(op.f("ix_task_executions_phase"), "task_executions", ["phase"], unique=False)


def downgrade() -> None:
    op.drop_table("task_executions")
    op.drop_table("node_executions")
    op.drop_table("executions")
