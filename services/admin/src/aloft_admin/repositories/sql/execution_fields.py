"""The filter/sort fields of ListExecutions, ListNodeExecutions and ListTaskExecutions (Flyte's names)."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core

from aloft_admin.repositories.filters import FieldMap, FilterField
from aloft_admin.repositories.models.executions import ExecutionModel, NodeExecutionModel, TaskExecutionModel

WF = core.WorkflowExecution
NODE = core.NodeExecution
TASK = core.TaskExecution
STATE = execution_pb2.ExecutionState


def _phase(column: Any, enum_type: type) -> FilterField:
    """Phases are stored by name; filters may give the name or the number."""

    def convert(value: str) -> str:
        text = value.strip().upper()
        if text.isdigit():
            return str(enum_type.Name(int(text)))  # type: ignore[attr-defined]
        enum_type.Value(text)  # type: ignore[attr-defined]  # raises ValueError for unknown names
        return text

    return FilterField(column, convert)


def _state(value: str) -> int:
    text = value.strip().upper()
    if text.lstrip("-").isdigit():
        return int(text)
    return int(STATE.Value(text if text.startswith("EXECUTION_") else f"EXECUTION_{text}"))


EXECUTION_FIELDS: FieldMap = {
    "project": ExecutionModel.project,
    "domain": ExecutionModel.domain,
    "name": ExecutionModel.name,
    "execution.name": ExecutionModel.name,
    "phase": _phase(ExecutionModel.phase, WF.Phase),
    "state": FilterField(ExecutionModel.state, _state),
    "mode": ExecutionModel.mode,
    "user": ExecutionModel.principal,
    "principal": ExecutionModel.principal,
    "cluster": ExecutionModel.cluster,
    "error_kind": ExecutionModel.error_kind,
    "error_code": ExecutionModel.error_code,
    "created_at": ExecutionModel.execution_created_at,
    "execution_created_at": ExecutionModel.execution_created_at,
    "updated_at": ExecutionModel.execution_updated_at,
    "execution_updated_at": ExecutionModel.execution_updated_at,
    "started_at": ExecutionModel.started_at,
    "duration": ExecutionModel.duration,
    "launch_plan.project": ExecutionModel.launch_plan_project,
    "launch_plan.domain": ExecutionModel.launch_plan_domain,
    "launch_plan.name": ExecutionModel.launch_plan_name,
    "launch_plan.version": ExecutionModel.launch_plan_version,
    "workflow.project": ExecutionModel.workflow_project,
    "workflow.domain": ExecutionModel.workflow_domain,
    "workflow.name": ExecutionModel.workflow_name,
    "workflow.version": ExecutionModel.workflow_version,
    "task.name": ExecutionModel.task_name,
}


NODE_FIELDS: FieldMap = {
    "node_id": NodeExecutionModel.node_id,
    "phase": _phase(NodeExecutionModel.phase, NODE.Phase),
    "created_at": NodeExecutionModel.node_execution_created_at,
    "updated_at": NodeExecutionModel.node_execution_updated_at,
    "started_at": NodeExecutionModel.started_at,
    "duration": NodeExecutionModel.duration,
    "error_kind": NodeExecutionModel.error_kind,
    "error_code": NodeExecutionModel.error_code,
    "cache_status": NodeExecutionModel.cache_status,
}


TASK_FIELDS: FieldMap = {
    "phase": _phase(TaskExecutionModel.phase, TASK.Phase),
    "retry_attempt": TaskExecutionModel.retry_attempt,
    "task.project": TaskExecutionModel.task_project,
    "task.domain": TaskExecutionModel.task_domain,
    "task.name": TaskExecutionModel.task_name,
    "task.version": TaskExecutionModel.task_version,
    "created_at": TaskExecutionModel.task_execution_created_at,
    "updated_at": TaskExecutionModel.task_execution_updated_at,
    "started_at": TaskExecutionModel.started_at,
    "duration": TaskExecutionModel.duration,
}
