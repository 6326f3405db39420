"""Concurrent single-event RPCs are committed in groups (managers/events_group.py): one transaction for many
events, each answered after the commit with the answer it gets when recorded alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from aloft_admin.managers.events_group import EventGroups
from aloft_admin.repositories.models.executions import NodeExecutionModel, TaskExecutionModel
from aloft_service.errors import AloftError, NotFound

NODE = core.NodeExecution


def node_request(
    wid: identifier_pb2.WorkflowExecutionIdentifier, node: str, phase: int, producer: str = "east"
) -> admin_event_pb2.NodeExecutionEventRequest:
    event = event_pb2.NodeExecutionEvent(
        id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=wid), phase=phase, producer_id=producer
    )
    event.occurred_at.FromDatetime(datetime.now(UTC))
    return admin_event_pb2.NodeExecutionEventRequest(event=event)


def task_request(
    wid: identifier_pb2.WorkflowExecutionIdentifier, node: str
) -> admin_event_pb2.TaskExecutionEventRequest:
    event = event_pb2.TaskExecutionEvent(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name="t", version="v"
        ),
        parent_node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=wid),
        phase=core.TaskExecution.RUNNING,
        producer_id="east",
    )
    event.occurred_at.FromDatetime(datetime.now(UTC))
    return admin_event_pb2.TaskExecutionEventRequest(event=event)


def outcome(result: object) -> tuple[str, str]:
    """An answer as (status code, which refusal), comparable between the grouped and the lone runs."""
    if isinstance(result, AloftError):
        reason = (
            result.details.WhichOneof("reason")
            if isinstance(result.details, admin_event_pb2.EventFailureReason)
            else ""
        )
        return (result.code.name, reason or "")
    assert not isinstance(result, BaseException), result
    return ("OK", "")


def spy_groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    attempt = EventGroups._attempt

    async def counted(self: EventGroups, group: list[Any]) -> Any:
        sizes.append(len(group))
        return await attempt(self, group)

    monkeypatch.setattr(EventGroups, "_attempt", counted)
    return sizes


async def record_mix(server: Any, name: str, *, together: bool) -> list[tuple[str, str]]:
    """Recorded concurrently (``together``) or one after the other: first events, a duplicate, a refusal after a
    terminal phase, another cluster's event, an unknown execution, a task event whose node does not exist (a
    failure after the load)."""
    await server.seed_execution(name)
    wid, nodes, tasks = server.wid(name), server.managers.node_events, server.managers.task_events
    for node, phase in (("dup", NODE.RUNNING), ("done", NODE.RUNNING), ("done", NODE.SUCCEEDED)):
        await nodes.record(node_request(wid, node, phase))
    calls = [nodes.record(node_request(wid, f"n{i}", NODE.QUEUED)) for i in range(4)]
    calls += [
        nodes.record(node_request(wid, "dup", NODE.RUNNING)),
        nodes.record(node_request(wid, "done", NODE.RUNNING)),
        nodes.record(node_request(wid, "n9", NODE.QUEUED, producer="west")),
        nodes.record(node_request(server.wid(f"{name}-missing"), "n0", NODE.QUEUED)),
        tasks.record(task_request(wid, "absent")),
        nodes.record(node_request(wid, "n0", NODE.RUNNING)),  # after n0's QUEUED in the same group
        nodes.record(node_request(wid, "n1", NODE.QUEUED)),  # a duplicate of an event earlier in the group
    ]
    if together:
        return [outcome(r) for r in await asyncio.gather(*calls, return_exceptions=True)]
    answers = []
    for call in calls:
        try:
            answers.append(outcome(await call))
        except AloftError as exc:
            answers.append(outcome(exc))
    return answers


async def test_concurrent_single_events_share_a_transaction_and_keep_their_answers(
    exec_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = spy_groups(monkeypatch)
    grouped = await record_mix(exec_server, "grouped", together=True)
    assert max(sizes) >= 2, sizes  # events were committed together
    sizes.clear()
    alone = await record_mix(exec_server, "alone", together=False)
    assert sizes == []  # each event was its own transaction
    assert grouped == alone
    assert grouped == [
        *[("OK", "")] * 4,
        ("ALREADY_EXISTS", ""),
        ("FAILED_PRECONDITION", "already_in_terminal_state"),
        ("FAILED_PRECONDITION", "incompatible_cluster"),
        ("NOT_FOUND", ""),
        ("NOT_FOUND", ""),
        ("OK", ""),
        ("ALREADY_EXISTS", ""),
    ]
    listed = await exec_server.admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_server.wid("grouped"), limit=20)
    )
    phases = {n.id.node_id: n.closure.phase for n in listed.node_executions}
    assert phases == {
        "dup": NODE.RUNNING,
        "done": NODE.SUCCEEDED,
        "n0": NODE.RUNNING,
        "n1": NODE.QUEUED,
        "n2": NODE.QUEUED,
        "n3": NODE.QUEUED,
    }


async def test_a_group_whose_event_fails_after_loading_records_the_others(
    exec_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that is no verdict on the event (here: its parent node is missing, found while creating its row)
    rolls the group back; the events around it are recorded again, the failed one gets its own answer."""
    sizes = spy_groups(monkeypatch)
    await exec_server.seed_execution("split")
    wid, nodes, tasks = exec_server.wid("split"), exec_server.managers.node_events, exec_server.managers.task_events
    results = await asyncio.gather(
        nodes.record(node_request(wid, "a", NODE.QUEUED)),
        nodes.record(node_request(wid, "b", NODE.QUEUED)),
        tasks.record(task_request(wid, "absent")),
        nodes.record(node_request(wid, "c", NODE.QUEUED)),
        nodes.record(node_request(wid, "d", NODE.QUEUED)),
        return_exceptions=True,
    )
    assert isinstance(results[2], NotFound), results
    assert [r for i, r in enumerate(results) if i != 2] == [admin_event_pb2.NodeExecutionEventResponse()] * 4
    assert sizes[:3] == [5, 2, 2], sizes  # the whole group, then the events before and after the failed one
    listed = await exec_server.admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=20)
    )
    assert sorted(n.id.node_id for n in listed.node_executions) == ["a", "b", "c", "d"]


def row_columns(row: Any) -> dict[str, Any]:
    """A row's columns, without those that differ by construction (id, links to other rows, admin's clock)."""
    skipped = {"id", "node_id", "parent_id", "created_at", "updated_at", "execution_name"}
    return {c.key: getattr(row, c.key) for c in sa_inspect(type(row)).column_attrs if c.key not in skipped}


async def test_new_rows_of_a_group_are_written_as_a_lone_events_row(exec_server: Any) -> None:
    """A group's new node and task rows go in one INSERT (PostgreSQL: one statement over arrays): every column as
    the ORM writes a lone event's row, ids the rows' own, and a row inserted mid-group (a child's parent) is then
    updated by a later event of the same group."""
    nodes, tasks = exec_server.managers.node_events, exec_server.managers.task_events
    for name in ("group", "alone"):
        await exec_server.seed_execution(name)

    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # one occurred_at for all: rows compared column by column

    def first_event(name: str, node: str) -> admin_event_pb2.NodeExecutionEventRequest:
        request = node_request(exec_server.wid(name), node, NODE.QUEUED)
        request.event.spec_node_id, request.event.retry_group, request.event.input_uri = "spec", "1", "s3://b/in.pb"
        request.event.occurred_at.FromDatetime(stamp)
        return request

    def task_event(name: str, node: str) -> admin_event_pb2.TaskExecutionEventRequest:
        request = task_request(exec_server.wid(name), node)
        request.event.occurred_at.FromDatetime(stamp)
        return request

    parent = first_event("group", "a")
    child = first_event("group", "c")
    child.event.parent_node_metadata.node_id = "a"
    await asyncio.gather(
        nodes.record(parent),
        nodes.record(first_event("group", "b")),
        nodes.record(child),  # reads a's id: the two rows before it are inserted first
        nodes.record(node_request(exec_server.wid("group"), "a", NODE.RUNNING)),  # updates a, inserted above
        tasks.record(task_event("group", "b")),
        tasks.record(task_event("group", "c")),
    )
    await nodes.record(first_event("alone", "b"))
    await tasks.record(task_event("alone", "b"))

    async with exec_server.deps.db.session() as session:
        node_rows = {
            (r.execution_name, r.node_id): r for r in (await session.execute(select(NodeExecutionModel))).scalars()
        }
        task_rows = {
            (r.execution_name, r.node_id): r for r in (await session.execute(select(TaskExecutionModel))).scalars()
        }
    assert row_columns(node_rows["group", "b"]) == row_columns(node_rows["alone", "b"])
    assert row_columns(task_rows["group", "b"]) == row_columns(task_rows["alone", "b"])
    assert node_rows["group", "c"].parent_id == node_rows["group", "a"].id
    assert node_rows["group", "a"].phase == "RUNNING" and node_rows["group", "a"].version == 2
    assert len({row.id for row in node_rows.values()}) == len(node_rows) == 4
