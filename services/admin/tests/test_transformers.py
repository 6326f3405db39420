"""Transformers both ways, without a database: proto → row builders and row → proto conversions give back what
went in (identifiers, labels, types, values, times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flyteidl.admin import common_pb2, project_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2

from aloft_admin.transformers import entities, signals
from aloft_admin.transformers.node_executions import (
    new_node_execution_row,
    node_execution_identifier,
    to_node_execution,
)
from aloft_admin.transformers.task_executions import (
    new_task_execution_row,
    task_execution_identifier,
    to_task_execution,
)
from aloft_admin.transformers.timestamps import from_timestamp, to_timestamp

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
WID = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="e1", org="o")
NID = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=WID)


def test_timestamps_round_trip() -> None:
    assert from_timestamp(to_timestamp(T0)) == T0


def test_node_execution_row_from_its_first_event_round_trips() -> None:
    row = new_node_execution_row(NID, occurred_at=T0, now=T0 + timedelta(seconds=1))
    assert node_execution_identifier(row) == NID
    assert (row.phase, row.parent_id, row.created_at) == ("UNDEFINED", None, T0 + timedelta(seconds=1))
    message = to_node_execution(row)
    assert message.id == NID
    assert message.closure.phase == core.NodeExecution.UNDEFINED
    assert from_timestamp(message.closure.created_at) == T0


def test_task_execution_row_from_its_first_event_round_trips() -> None:
    task = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="p", domain="d", name="t", version="v", org="o"
    )
    tid = identifier_pb2.TaskExecutionIdentifier(task_id=task, node_execution_id=NID, retry_attempt=2)
    row = new_task_execution_row(tid, occurred_at=T0, now=T0)
    assert task_execution_identifier(row) == tid
    message = to_task_execution(row)
    assert message.id == tid and message.closure.phase == core.TaskExecution.UNDEFINED
    assert from_timestamp(message.closure.created_at) == T0


def test_project_row_round_trips_with_labels_and_state() -> None:
    project = project_pb2.Project(
        id="p", name="P", description="about p", org="o", state=project_pb2.Project.ARCHIVED,
        labels=common_pb2.Labels(values={"team": "ml"}),
    )  # fmt: skip
    domains = [project_pb2.Domain(id="development", name="development")]
    row = entities.to_project_row(project, T0)
    assert (row.identifier, row.created_at, row.updated_at) == ("p", T0, T0)
    expected = project_pb2.Project()
    expected.CopyFrom(project)
    expected.domains.extend(domains)
    assert entities.to_project(row, domains) == expected
    unlabelled = entities.to_project_row(project_pb2.Project(id="q"), T0)
    assert unlabelled.labels == b"" and not entities.to_project(unlabelled, []).HasField("labels")


def test_signal_row_round_trips_type_and_value() -> None:
    sid = identifier_pb2.SignalIdentifier(signal_id="approve", execution_id=WID)
    boolean = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
    row = signals.to_model(sid, boolean, T0)
    assert signals.stored_type(row) == boolean
    message = signals.from_model(row)
    assert message.id == sid and message.type == boolean and not message.HasField("value")
    value = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=True)))
    row.value = value.SerializeToString()
    assert signals.from_model(row).value == value
