"""Pure conversions between workflow-execution rows and flyteidl ``admin.Execution`` messages."""

from __future__ import annotations

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.models.executions import ExecutionModel, NodeExecutionModel, TaskExecutionModel
from aloft_admin.repositories.models.signals import SignalModel
from aloft_admin.transformers.timestamps import fold_times


def execution_identifier(row: ExecutionModel) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(
        project=row.project, domain=row.domain, name=row.name, org=row.org
    )


def execution_columns(wid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, str]:
    """The columns of a node execution's, task execution's or signal's row naming its workflow execution."""
    return {
        "execution_org": wid.org,
        "execution_project": wid.project,
        "execution_domain": wid.domain,
        "execution_name": wid.name,
    }


def owning_execution(
    row: NodeExecutionModel | TaskExecutionModel | SignalModel,
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """The workflow execution a node execution's, task execution's or signal's row belongs to."""
    return identifier_pb2.WorkflowExecutionIdentifier(
        project=row.execution_project, domain=row.execution_domain, name=row.execution_name, org=row.execution_org
    )


def spec_of(row: ExecutionModel) -> execution_pb2.ExecutionSpec:
    return execution_pb2.ExecutionSpec.FromString(row.spec)


def closure_of(row: ExecutionModel) -> execution_pb2.ExecutionClosure:
    return execution_pb2.ExecutionClosure.FromString(row.closure)


def to_execution(row: ExecutionModel) -> execution_pb2.Execution:
    """The stored closure, with the row's authoritative columns (phase, times) folded in."""
    closure = closure_of(row)
    closure.phase = core.WorkflowExecution.Phase.Value(row.phase)
    created_at, updated_at = row.execution_created_at or row.created_at, row.execution_updated_at or row.updated_at
    fold_times(closure, created_at, updated_at, row.started_at, row.duration)
    spec = spec_of(row)
    if row.cluster:  # the data plane admin chose (Flyte's SystemMetadata.execution_cluster)
        spec.metadata.system_metadata.execution_cluster = row.cluster
    return execution_pb2.Execution(id=execution_identifier(row), spec=spec, closure=closure)
