"""Pure conversions between node-execution rows and flyteidl ``admin.NodeExecution`` messages."""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.models.executions import NodeExecutionModel, TaskExecutionModel
from aloft_admin.transformers.executions import execution_columns, owning_execution
from aloft_admin.transformers.timestamps import fold_times


def new_node_execution_row(
    nid: identifier_pb2.NodeExecutionIdentifier, occurred_at: datetime, now: datetime
) -> NodeExecutionModel:
    """The row a node execution's first event creates: UNDEFINED until the event itself is applied."""
    return NodeExecutionModel(
        **execution_columns(nid.execution_id),
        node_id=nid.node_id,
        phase=core.NodeExecution.Phase.Name(core.NodeExecution.UNDEFINED),
        closure=b"",
        metadata_=b"",
        node_execution_created_at=occurred_at,
        created_at=now,
        updated_at=now,
    )


def node_execution_identifier(row: NodeExecutionModel | TaskExecutionModel) -> identifier_pb2.NodeExecutionIdentifier:
    """The node execution of a node execution's row, or the one a task execution's row belongs to."""
    return identifier_pb2.NodeExecutionIdentifier(node_id=row.node_id, execution_id=owning_execution(row))


def node_closure_of(row: NodeExecutionModel) -> node_execution_pb2.NodeExecutionClosure:
    return node_execution_pb2.NodeExecutionClosure.FromString(row.closure)


def node_metadata_of(row: NodeExecutionModel) -> node_execution_pb2.NodeExecutionMetaData:
    return node_execution_pb2.NodeExecutionMetaData.FromString(row.metadata_)


def to_node_execution(row: NodeExecutionModel) -> node_execution_pb2.NodeExecution:
    closure = node_closure_of(row)
    created_at, updated_at = (
        row.node_execution_created_at or row.created_at,
        row.node_execution_updated_at or row.updated_at,
    )
    fold_times(closure, created_at, updated_at, row.started_at, row.duration)
    return node_execution_pb2.NodeExecution(
        id=node_execution_identifier(row), input_uri=row.input_uri, closure=closure, metadata=node_metadata_of(row)
    )
