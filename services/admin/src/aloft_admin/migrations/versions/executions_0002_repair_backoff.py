"""executions: when the repair loop may next retry a row's hand-off or abort, and how often an abort failed

Revision ID: executions_0002
Revises: executions_0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "executions_0002"
down_revision = "executions_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("executions", sa.Column("abort_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.create_index(op.f("ix_executions_retry_at"), "executions", ["retry_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_executions_retry_at"), table_name="executions")
    op.drop_column("executions", "abort_attempts")
    op.drop_column("executions", "retry_at")
