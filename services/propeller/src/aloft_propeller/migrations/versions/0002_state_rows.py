"""propeller workflow state in rows: one per node, one per outbox event

Each round used to write the whole state (every node and the event outbox) as one JSON value; now a round writes
the nodes and events it changed. Existing states are split: ``status`` keeps the workflow's own fields, its
outbox events are numbered in order (``event_seq`` holds the last number).

Revision ID: propeller_0002
Revises: propeller_0001
Create Date: 2026-12-06
"""

import base64
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "propeller_0002"
down_revision = "propeller_0001"
branch_labels = None
depends_on = None

_workflows = sa.table(
    "propeller_workflows", sa.column("id", sa.Integer()), sa.column("status", sa.LargeBinary())
)
_nodes = sa.table(
    "propeller_node_states",
    sa.column("workflow_id", sa.Integer()),
    sa.column("path", sa.Text()),
    sa.column("state", sa.Text()),
)
_events = sa.table(
    "propeller_outbox_events",
    sa.column("workflow_id", sa.Integer()),
    sa.column("seq", sa.BigInteger()),
    sa.column("kind", sa.String()),
    sa.column("event_group", sa.Text()),
    sa.column("payload", sa.LargeBinary()),
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def upgrade() -> None:
    op.create_table(
        "propeller_node_states",
        sa.Column(
            "workflow_id",
            sa.Integer(),
            sa.ForeignKey("propeller_workflows.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("path", sa.Text(), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
    )
    op.create_table(
        "propeller_outbox_events",
        sa.Column(
            "workflow_id",
            sa.Integer(),
            sa.ForeignKey("propeller_workflows.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_group", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
    )
    bind = op.get_bind()
    for workflow_id, status in bind.execute(sa.select(_workflows.c.id, _workflows.c.status)).all():
        _split(bind, workflow_id, json.loads(bytes(status)))


def _split(bind: sa.Connection, workflow_id: int, data: dict[str, Any]) -> None:
    nodes = data.pop("nodes", {})
    outbox = data.pop("outbox", [])
    data["event_seq"] = len(outbox)
    if nodes:
        rows = [{"workflow_id": workflow_id, "path": path, "state": _dumps(node)} for path, node in nodes.items()]
        bind.execute(_nodes.insert(), rows)
    if outbox:
        events = [
            {
                "workflow_id": workflow_id,
                "seq": seq,
                "kind": event["kind"],
                "event_group": event.get("group", ""),
                "payload": base64.b64decode(event["payload_b64"]),
            }
            for seq, event in enumerate(outbox, start=1)
        ]
        bind.execute(_events.insert(), events)
    status = _dumps(data).encode()
    bind.execute(_workflows.update().where(_workflows.c.id == workflow_id).values(status=status))


def downgrade() -> None:
    bind = op.get_bind()
    for workflow_id, status in bind.execute(sa.select(_workflows.c.id, _workflows.c.status)).all():
        data = json.loads(bytes(status))
        data.pop("event_seq", None)
        nodes = bind.execute(sa.select(_nodes.c.path, _nodes.c.state).where(_nodes.c.workflow_id == workflow_id))
        data["nodes"] = {path: json.loads(state) for path, state in nodes}
        events = bind.execute(
            sa.select(_events.c.kind, _events.c.event_group, _events.c.payload)
            .where(_events.c.workflow_id == workflow_id)
            .order_by(_events.c.seq)
        )
        data["outbox"] = [
            {"kind": kind, "payload_b64": base64.b64encode(bytes(payload)).decode(), "group": group}
            for kind, group, payload in events
        ]
        bind.execute(_workflows.update().where(_workflows.c.id == workflow_id).values(status=_dumps(data).encode()))
    op.drop_table("propeller_outbox_events")
    op.drop_table("propeller_node_states")
