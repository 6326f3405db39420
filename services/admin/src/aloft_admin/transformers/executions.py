"""Pure conversions between workflow-execution rows and flyteidl ``admin.Execution`` messages."""

from __future__ import annotations

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transformers.timestamps import seconds_duration, to_timestamp


def execution_identifier(row: ExecutionModel) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(
        project=row.project, domain=row.domain, name=row.name, org=row.org
    )


def spec_of(row: ExecutionModel) -> execution_pb2.ExecutionSpec:
    spec = execution_pb2.ExecutionSpec()
    spec.ParseFromString(row.spec)
    return spec


def closure_of(row: ExecutionModel) -> execution_pb2.ExecutionClosure:
    closure = execution_pb2.ExecutionClosure()
    closure.ParseFromString(row.closure)
    return closure


def to_execution(row: ExecutionModel) -> execution_pb2.Execution:
    """The stored closure, with the row's authoritative columns (phase, times) folded in."""
    closure = closure_of(row)
    closure.phase = core.WorkflowExecution.Phase.Value(row.phase)
    closure.created_at.CopyFrom(to_timestamp(row.execution_created_at or row.created_at))
    closure.updated_at.CopyFrom(to_timestamp(row.execution_updated_at or row.updated_at))
    if row.started_at is not None:
        closure.started_at.CopyFrom(to_timestamp(row.started_at))
        closure.duration.CopyFrom(seconds_duration(row.duration))
    spec = spec_of(row)
    if row.cluster:  # the data plane admin chose (Flyte's SystemMetadata.execution_cluster)
        spec.metadata.system_metadata.execution_cluster = row.cluster
    return execution_pb2.Execution(id=execution_identifier(row), spec=spec, closure=closure)
