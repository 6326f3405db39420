"""The filter/sort fields each List RPC accepts, mapped to columns (Flyte's names, bare and entity-prefixed)."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, launch_plan_pb2, project_pb2
from sqlalchemy import select

from aloft_admin.repositories import filters as f
from aloft_admin.repositories.models.entities import (
    DescriptionEntityRow,
    LaunchPlanRow,
    NamedEntityRow,
    ProjectRow,
    TaskRow,
    WorkflowRow,
)


def versioned_fields(model: Any, prefix: str) -> dict[str, Any]:
    """Fields every versioned entity has, bare and with its entity prefix (``task.name``)."""
    fields: dict[str, Any] = {
        "project": model.project,
        "domain": model.domain,
        "name": model.name,
        "version": model.version,
        "org": model.org,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }
    return fields | {f"{prefix}.{key}": value for key, value in fields.items()}


def _workflow_column(column: Any) -> Any:
    """The launched workflow's column, for filters such as ``eq(workflow.name,...)`` (flyteconsole sends them)."""
    return select(column).where(WorkflowRow.id == LaunchPlanRow.workflow_id).scalar_subquery()


def _enum(column: Any, enum_values: Any) -> f.FilterField:
    return f.FilterField(column, f.enum_converter(dict(enum_values.items())))


PROJECT_FIELDS: f.FieldMap = {
    "identifier": ProjectRow.identifier,
    "id": ProjectRow.identifier,
    "name": ProjectRow.name,
    "description": ProjectRow.description,
    "state": _enum(ProjectRow.state, project_pb2.Project.ProjectState),
    "created_at": ProjectRow.created_at,
    "updated_at": ProjectRow.updated_at,
}

TASK_FIELDS: f.FieldMap = versioned_fields(TaskRow, "task") | {"type": TaskRow.type, "task.type": TaskRow.type}

WORKFLOW_FIELDS: f.FieldMap = versioned_fields(WorkflowRow, "workflow")

_LAUNCH_PLAN_STATE = _enum(LaunchPlanRow.state, launch_plan_pb2.LaunchPlanState)
LAUNCH_PLAN_FIELDS: f.FieldMap = versioned_fields(LaunchPlanRow, "launch_plan") | {
    "state": _LAUNCH_PLAN_STATE,
    "launch_plan.state": _LAUNCH_PLAN_STATE,
    "schedule_type": LaunchPlanRow.schedule_type,
    "workflow.name": _workflow_column(WorkflowRow.name),
    "workflow.version": _workflow_column(WorkflowRow.version),
    "workflow.project": _workflow_column(WorkflowRow.project),
    "workflow.domain": _workflow_column(WorkflowRow.domain),
}

_NAMED_ENTITY_STATE = _enum(NamedEntityRow.state, common_pb2.NamedEntityState)
NAMED_ENTITY_FIELDS: f.FieldMap = {
    "project": NamedEntityRow.project,
    "domain": NamedEntityRow.domain,
    "name": NamedEntityRow.name,
    "description": NamedEntityRow.description,
    "state": _NAMED_ENTITY_STATE,
    "named_entity_metadata.state": _NAMED_ENTITY_STATE,
    "created_at": NamedEntityRow.created_at,
    "updated_at": NamedEntityRow.updated_at,
}

DESCRIPTION_FIELDS: f.FieldMap = {
    "project": DescriptionEntityRow.project,
    "domain": DescriptionEntityRow.domain,
    "name": DescriptionEntityRow.name,
    "version": DescriptionEntityRow.version,
    "short_description": DescriptionEntityRow.short_description,
    "created_at": DescriptionEntityRow.created_at,
}
