"""executions: the hand-off request to the data plane kept in the row (no blob per execution for it)

Revision ID: executions_0003
Revises: executions_0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "executions_0003"
down_revision = "executions_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("handoff_request", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("executions", "handoff_request")
