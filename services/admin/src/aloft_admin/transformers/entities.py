"""Pure conversions between entity rows and flyteidl messages (no I/O)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from flyteidl.admin import common_pb2, description_entity_pb2, launch_plan_pb2, project_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from aloft_admin.repositories.models.entities import (
    DescriptionEntityRow,
    LaunchPlanRow,
    NamedEntityRow,
    ProjectRow,
    TaskRow,
    WorkflowRow,
)
from aloft_admin.transformers.timestamps import to_timestamp

TASK = identifier_pb2.TASK
WORKFLOW = identifier_pb2.WORKFLOW
LAUNCH_PLAN = identifier_pb2.LAUNCH_PLAN


def digest(message: Message) -> bytes:
    """Stable content hash of a message (deterministic serialization)."""
    return hashlib.sha256(message.SerializeToString(deterministic=True)).digest()


def describe_differences(old: Message, new: Message, limit: int = 20) -> list[str]:
    """Human-readable JSON paths where two messages differ (``/path: - old + new``), as flyteadmin reports."""
    old_json = json_format.MessageToDict(old, preserving_proto_field_name=True)
    new_json = json_format.MessageToDict(new, preserving_proto_field_name=True)
    lines: list[str] = []
    _diff("", old_json, new_json, lines)
    return lines[:limit]


def _diff(path: str, old: Any, new: Any, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(f"{path}/{key}", old.get(key), new.get(key), out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(f"{path}/{index}", a, b, out)
    elif old != new:
        out.append(f"{path or '/'}:\n\t- {old} \n\t+ {new}")


def identifier(row: TaskRow | WorkflowRow | LaunchPlanRow, resource_type: int) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=resource_type,  # type: ignore[arg-type]
        project=row.project,
        domain=row.domain,
        name=row.name,
        version=row.version,
        org=row.org,
    )


def name_columns(id: identifier_pb2.Identifier | common_pb2.NamedEntityIdentifier) -> dict[str, str]:
    """The key columns (project, domain, name, org) of the rows a name's entities are stored in."""
    return {"project": id.project, "domain": id.domain, "name": id.name, "org": id.org}


def version_columns(id: identifier_pb2.Identifier) -> dict[str, str]:
    """The key columns of a versioned entity's row (a task, workflow, launch plan or description)."""
    return {**name_columns(id), "version": id.version}


def id_text(id: identifier_pb2.Identifier | common_pb2.NamedEntityIdentifier) -> str:
    """How errors name an identifier: ``project:domain:name[:version]``."""
    parts = [id.project, id.domain, id.name]
    if isinstance(id, identifier_pb2.Identifier):
        parts.append(id.version)
    text = ":".join(parts)
    return f"{id.org}/{text}" if id.org else text


def to_task(row: TaskRow) -> task_pb2.Task:
    closure = task_pb2.TaskClosure.FromString(row.closure)
    return task_pb2.Task(id=identifier(row, TASK), closure=closure, short_description=row.short_description)


def to_workflow(row: WorkflowRow, compiled: Any = None) -> workflow_pb2.Workflow:
    closure = workflow_pb2.WorkflowClosure(created_at=to_timestamp(row.created_at))
    if compiled is not None:
        closure.compiled_workflow.CopyFrom(compiled)
    return workflow_pb2.Workflow(id=identifier(row, WORKFLOW), closure=closure, short_description=row.short_description)


def to_launch_plan(row: LaunchPlanRow) -> launch_plan_pb2.LaunchPlan:
    closure = launch_plan_pb2.LaunchPlanClosure.FromString(row.closure)
    closure.state = row.state  # type: ignore[assignment]
    closure.updated_at.CopyFrom(to_timestamp(row.updated_at))
    return launch_plan_pb2.LaunchPlan(
        id=identifier(row, LAUNCH_PLAN), spec=launch_plan_pb2.LaunchPlanSpec.FromString(row.spec), closure=closure
    )


class _Named(Protocol):
    project: str
    domain: str
    name: str
    org: str


def to_named_entity_id(row: _Named) -> common_pb2.NamedEntityIdentifier:
    return common_pb2.NamedEntityIdentifier(project=row.project, domain=row.domain, name=row.name, org=row.org)


def to_named_entity(row: NamedEntityRow) -> common_pb2.NamedEntity:
    return common_pb2.NamedEntity(
        resource_type=row.resource_type,  # type: ignore[arg-type]
        id=to_named_entity_id(row),
        metadata=common_pb2.NamedEntityMetadata(description=row.description, state=row.state),  # type: ignore[arg-type]
    )


def to_description_entity(row: DescriptionEntityRow) -> description_entity_pb2.DescriptionEntity:
    return description_entity_pb2.DescriptionEntity.FromString(row.entity)


def to_project_row(project: project_pb2.Project, now: datetime) -> ProjectRow:
    """A registered project's row (domains are system-wide: not stored)."""
    return ProjectRow(
        identifier=project.id,
        org=project.org,
        name=project.name,
        description=project.description,
        labels=project.labels.SerializeToString() if project.HasField("labels") else b"",
        state=project.state,
        created_at=now,
        updated_at=now,
    )


def to_project(row: ProjectRow, domains: list[project_pb2.Domain]) -> project_pb2.Project:
    project = project_pb2.Project(
        id=row.identifier,
        name=row.name,
        description=row.description,
        domains=domains,
        state=row.state,  # type: ignore[arg-type]
        org=row.org,
    )
    if row.labels:
        project.labels.ParseFromString(row.labels)
    return project
