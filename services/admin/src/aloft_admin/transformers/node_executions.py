"""Pure conversions between node-execution rows and flyteidl ``admin.NodeExecution`` messages."""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.models.executions import NodeExecutionModel
from aloft_admin.transformers.timestamps import seconds_duration, to_timestamp


def new_node_execution_row(
    nid: identifier_pb2.NodeExecutionIdentifier, occurred_at: datetime, now: datetime
) -> NodeExecutionModel:
    """The row a node execution's first event creates: UNDEFINED until the event itself is applied."""
    wid = nid.execution_id
    return NodeExecutionModel(
        execution_org=wid.org,
        execution_project=wid.project,
        execution_domain=wid.domain,
        execution_name=wid.name,
        node_id=nid.node_id,
        phase=core.NodeExecution.Phase.Name(core.NodeExecution.UNDEFINED),
        closure=b"",
        metadata_=b"",
        node_execution_created_at=occurred_at,
        created_at=now,
        updated_at=now,
    )


def node_execution_identifier(row: NodeExecutionModel) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(
        node_id=row.node_id,
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(
            project=row.execution_project, domain=row.execution_domain, name=row.execution_name, org=row.execution_org
        ),
    )


def node_closure_of(row: NodeExecutionModel) -> node_execution_pb2.NodeExecutionClosure:
    closure = node_execution_pb2.NodeExecutionClosure()
    closure.ParseFromString(row.closure)
    return closure


def node_metadata_of(row: NodeExecutionModel) -> node_execution_pb2.NodeExecutionMetaData:
    metadata = node_execution_pb2.NodeExecutionMetaData()
    metadata.ParseFromString(row.metadata_)
    return metadata


def to_node_execution(row: NodeExecutionModel) -> node_execution_pb2.NodeExecution:
    closure = node_closure_of(row)
    closure.created_at.CopyFrom(to_timestamp(row.node_execution_created_at or row.created_at))
    closure.updated_at.CopyFrom(to_timestamp(row.node_execution_updated_at or row.updated_at))
    if row.started_at is not None:
        closure.started_at.CopyFrom(to_timestamp(row.started_at))
        closure.duration.CopyFrom(seconds_duration(row.duration))
    return node_execution_pb2.NodeExecution(
        id=node_execution_identifier(row), input_uri=row.input_uri, closure=closure, metadata=node_metadata_of(row)
    )
