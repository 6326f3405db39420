"""Pure transformations from store records to aloft.dataplane.v1 messages."""

from __future__ import annotations

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import identifier_pb2

from aloft_propeller.events.builders import NODE_PHASES, WORKFLOW_PHASES, execution_error, timestamp
from aloft_propeller.state import NodePhase
from aloft_propeller.store.base import WorkflowRecord


def to_execution_status(record: WorkflowRecord) -> dataplane_pb2.ExecutionStatus:
    state = record.state
    status = dataplane_pb2.ExecutionStatus(
        id=identifier_pb2.WorkflowExecutionIdentifier(
            project=record.key.project, domain=record.key.domain, name=record.key.name
        ),
        phase=WORKFLOW_PHASES[state.phase],
        resource_version=record.resource_version,
        shard_key=record.shard_key,
        cluster=record.cluster,
        abort_cause=state.abort_cause,
        held=state.held and not state.abort_cause and not state.phase.is_terminal,
        updated_at=timestamp(record.updated_at.timestamp()),
    )
    for path, node in sorted(state.nodes.items()):
        started = node.phase != NodePhase.NOT_YET_STARTED
        status.nodes.add(
            node_id=path,
            phase=NODE_PHASES[node.phase],
            attempts=node.attempt + 1 if started else 0,
            system_failures=node.system_failures,
            message=node.error.message if node.error else node.message,
        )
    if state.error is not None:
        status.error.CopyFrom(execution_error(state.error))
    return status
