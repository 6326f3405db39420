"""Pure builders of flyteidl event messages from engine state."""

from __future__ import annotations

from dataclasses import dataclass

from flyteidl.core import execution_pb2, identifier_pb2
from flyteidl.event import event_pb2
from google.protobuf import timestamp_pb2

from aloft_propeller.execution_error import ExecutionError
from aloft_propeller.plugins.base import Phase, PhaseInfo
from aloft_propeller.state import NodePhase, WorkflowPhase

# Bumped by flytepropeller when node event shapes changed; flyteadmin reads is_parent/parent metadata from v1+.
EVENT_VERSION = 1

WORKFLOW_PHASES = {
    WorkflowPhase.READY: execution_pb2.WorkflowExecution.QUEUED,
    WorkflowPhase.RUNNING: execution_pb2.WorkflowExecution.RUNNING,
    WorkflowPhase.FAILING: execution_pb2.WorkflowExecution.FAILING,
    WorkflowPhase.SUCCEEDED: execution_pb2.WorkflowExecution.SUCCEEDED,
    WorkflowPhase.FAILED: execution_pb2.WorkflowExecution.FAILED,
    WorkflowPhase.ABORTED: execution_pb2.WorkflowExecution.ABORTED,
}

NODE_PHASES = {
    NodePhase.NOT_YET_STARTED: execution_pb2.NodeExecution.UNDEFINED,
    NodePhase.QUEUED: execution_pb2.NodeExecution.QUEUED,
    NodePhase.RUNNING: execution_pb2.NodeExecution.RUNNING,
    NodePhase.RETRYABLE_FAILURE: execution_pb2.NodeExecution.RUNNING,
    NodePhase.SUCCEEDED: execution_pb2.NodeExecution.SUCCEEDED,
    NodePhase.FAILED: execution_pb2.NodeExecution.FAILED,
    NodePhase.TIMED_OUT: execution_pb2.NodeExecution.TIMED_OUT,
    NodePhase.SKIPPED: execution_pb2.NodeExecution.SKIPPED,
    NodePhase.ABORTED: execution_pb2.NodeExecution.ABORTED,
}

TASK_PHASES = {
    Phase.UNDEFINED: execution_pb2.TaskExecution.UNDEFINED,
    Phase.NOT_READY: execution_pb2.TaskExecution.WAITING_FOR_RESOURCES,
    Phase.WAITING_FOR_RESOURCES: execution_pb2.TaskExecution.WAITING_FOR_RESOURCES,
    Phase.QUEUED: execution_pb2.TaskExecution.QUEUED,
    Phase.INITIALIZING: execution_pb2.TaskExecution.INITIALIZING,
    Phase.RUNNING: execution_pb2.TaskExecution.RUNNING,
    Phase.SUCCESS: execution_pb2.TaskExecution.SUCCEEDED,
    Phase.RETRYABLE_FAILURE: execution_pb2.TaskExecution.RETRYABLE_FAILED,
    Phase.PERMANENT_FAILURE: execution_pb2.TaskExecution.FAILED,
}

_KINDS = {"USER": execution_pb2.ExecutionError.USER, "SYSTEM": execution_pb2.ExecutionError.SYSTEM}


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def execution_error(error: ExecutionError) -> execution_pb2.ExecutionError:
    return execution_pb2.ExecutionError(
        code=error.code, message=error.message, kind=_KINDS.get(error.kind, execution_pb2.ExecutionError.UNKNOWN)
    )


def workflow_event(
    execution_id: identifier_pb2.WorkflowExecutionIdentifier,
    producer_id: str,
    phase: WorkflowPhase,
    at: float,
    output_uri: str = "",
    error: ExecutionError | None = None,
) -> event_pb2.WorkflowExecutionEvent:
    event = event_pb2.WorkflowExecutionEvent(
        execution_id=execution_id, producer_id=producer_id, phase=WORKFLOW_PHASES[phase], occurred_at=timestamp(at)
    )
    if output_uri:
        event.output_uri = output_uri
    if error is not None:
        event.error.CopyFrom(execution_error(error))
    return event


@dataclass(frozen=True)
class NodeEventInfo:
    """Identity and shape of one node execution, as flyteadmin and flytekit read it."""

    execution_id: identifier_pb2.WorkflowExecutionIdentifier
    producer_id: str
    path: str
    spec_node_id: str
    node_name: str
    input_uri: str
    parent_path: str = ""
    retry_group: str = ""
    is_parent: bool = False
    task_id: identifier_pb2.Identifier | None = None
    # Launch-plan nodes: the child execution they started (workflow_node_metadata.execution_id).
    child_execution: identifier_pb2.WorkflowExecutionIdentifier | None = None
    is_array: bool = False
    is_dynamic: bool = False

    def node_execution_id(self) -> identifier_pb2.NodeExecutionIdentifier:
        return identifier_pb2.NodeExecutionIdentifier(node_id=self.path, execution_id=self.execution_id)


def node_event(
    info: NodeEventInfo,
    phase: NodePhase,
    at: float,
    output_uri: str = "",
    error: ExecutionError | None = None,
    deck_uri: str = "",
    recovered: bool = False,
) -> event_pb2.NodeExecutionEvent:
    when = timestamp(at)  # one message for both fields (each is copied in)
    event = event_pb2.NodeExecutionEvent(
        id=info.node_execution_id(),
        producer_id=info.producer_id,
        phase=NODE_PHASES[phase],
        occurred_at=when,
        reported_at=when,
        input_uri=info.input_uri,
        spec_node_id=info.spec_node_id,
        node_name=info.node_name or info.spec_node_id,
        retry_group=info.retry_group,
        is_parent=info.is_parent,
        is_array=info.is_array,
        is_dynamic=info.is_dynamic,
        event_version=EVENT_VERSION,
        deck_uri=deck_uri,
    )
    if recovered:
        event.phase = execution_pb2.NodeExecution.RECOVERED
    if info.parent_path:
        event.parent_node_metadata.node_id = info.parent_path
    if info.task_id is not None:
        event.target_entity.CopyFrom(info.task_id)
    if info.child_execution is not None:
        event.workflow_node_metadata.execution_id.CopyFrom(info.child_execution)
    if output_uri:
        event.output_uri = output_uri
    if error is not None:
        event.error.CopyFrom(execution_error(error))
    return event


def task_event(
    info: NodeEventInfo,
    task_type: str,
    attempt: int,
    unique_id: str,
    plugin_id: str,
    phase_info: PhaseInfo,
    at: float,
    output_uri: str = "",
) -> event_pb2.TaskExecutionEvent:
    event = event_pb2.TaskExecutionEvent(
        task_id=info.task_id,
        parent_node_execution_id=info.node_execution_id(),
        retry_attempt=attempt,
        phase=TASK_PHASES[phase_info.phase],
        producer_id=info.producer_id,
        occurred_at=timestamp(phase_info.occurred_at.timestamp() if phase_info.occurred_at else at),
        reported_at=timestamp(at),
        input_uri=info.input_uri,
        phase_version=phase_info.version,
        reason=phase_info.reason,
        task_type=task_type,
        event_version=EVENT_VERSION,
    )
    event.metadata.generated_name = unique_id
    event.metadata.plugin_identifier = plugin_id
    for log in phase_info.logs:
        event.logs.add(name=log.name, uri=log.uri)
    if phase_info.custom_info is not None:
        event.custom_info.CopyFrom(phase_info.custom_info)
    if output_uri and phase_info.phase == Phase.SUCCESS:
        event.output_uri = output_uri
    if phase_info.error is not None:
        error = phase_info.error
        event.error.CopyFrom(execution_error(error))
    return event
