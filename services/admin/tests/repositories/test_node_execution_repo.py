"""NodeExecutionRepo: identity per (execution, node id), staged inserts, parent/child listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.executions import NodeExecutionModel, TaskExecutionModel
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import Aborted, AlreadyExists, InvalidArgument

from .conftest import T0, execution_row, nid, node_row, task_row, tid, wid


async def test_add_is_written_by_flush_and_duplicates_fail_there(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.executions.add(execution_row("e1"))
        await tx.node_executions.add(node_row("n0"))
        await tx.flush()
        assert await tx.node_executions.get(nid("n0")) is not None
        assert await tx.node_executions.get(nid("n1")) is None
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            await tx.node_executions.add(node_row("n0"))
            await tx.flush()


async def test_children_top_level_and_pages(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.node_executions.add(node_row("parent"))
        await tx.flush()
        parent = await tx.node_executions.get(nid("parent"))
        assert parent is not None
        for i in range(3):
            await tx.node_executions.add(node_row(f"child{i}", parent_id=parent.id, phase="SUCCEEDED"))
        await tx.node_executions.add(node_row("by-task", parent_task_execution_id=7))
        await tx.node_executions.add(node_row("elsewhere", execution="e2"))
    async with repos.transaction() as tx:
        top, _ = await tx.node_executions.page(wid("e1"), ListQuery(limit=10), top_level=True)
        assert [r.node_id for r in top] == ["parent", "by-task"]
        children, token = await tx.node_executions.page(wid("e1"), ListQuery(limit=2), parent_id=parent.id)
        assert [r.node_id for r in children] == ["child0", "child1"] and token == "2"
        rest, token = await tx.node_executions.page(wid("e1"), ListQuery(limit=2, token=token), parent_id=parent.id)
        assert [r.node_id for r in rest] == ["child2"] and token == ""
        by_task, _ = await tx.node_executions.page(wid("e1"), ListQuery(limit=10), parent_task_execution_id=7)
        assert [r.node_id for r in by_task] == ["by-task"]
        done, _ = await tx.node_executions.page(wid("e1"), ListQuery(limit=10, filters="eq(phase,SUCCEEDED)"))
        assert len(done) == 3
        assert len(await tx.node_executions.all_of(wid("e1"))) == 5
        found = await tx.node_executions.by_row_ids([parent.id, children[0].id, 10**9])
        assert set(found) == {parent.id, children[0].id}
        assert await tx.node_executions.by_row_ids([]) == {}
        with pytest.raises(InvalidArgument):
            await tx.node_executions.page(wid("e1"), ListQuery(limit=10, filters="eq(phase,NOT_A_PHASE)"))


async def test_a_batch_writes_its_changed_rows_together_and_a_lost_race_aborts_all_of_them(
    repos: SqlRepositories,
) -> None:
    async with repos.transaction() as tx:
        await tx.executions.add(execution_row("e1"))
        for node in ("n0", "n1", "n2"):
            await tx.node_executions.add(node_row(node))
    async with repos.transaction(batched=True) as tx:
        await tx.node_executions.prefetch([nid("n0"), nid("n1"), nid("n2")])
        for node in ("n0", "n1"):
            row = await tx.node_executions.for_event(nid(node))
            assert row is not None
            row.phase = "RUNNING"
    with pytest.raises(Aborted):
        async with repos.transaction(batched=True) as stale:
            rows = [await stale.node_executions.get(nid(node)) for node in ("n0", "n2")]  # read without a lock
            async with repos.transaction() as winner:
                fresh = await winner.node_executions.get(nid("n2"))
                assert fresh is not None
                fresh.phase = "FAILED"
            for row in rows:
                assert row is not None
                row.phase = "SUCCEEDED"
    async with repos.transaction() as tx:
        phases = {node: (await tx.node_executions.get(nid(node))) for node in ("n0", "n1", "n2")}
        assert {node: row.phase if row else None for node, row in phases.items()} == {
            "n0": "RUNNING",
            "n1": "RUNNING",
            "n2": "FAILED",
        }


AWKWARD_TEXT = 'it\'s "quoted" \\ back\\slash \\x00 {"json": [1]} ünïcödé 日本 😀'
AWKWARD_BYTES = b"\x00\xff\x00'\"\\x" + bytes(range(256))
OFFSET = timezone(timedelta(hours=5, minutes=30))


def awkward_node(node_id: str, execution: str) -> NodeExecutionModel:
    """Values a JSON or array encoding could get wrong: quotes, backslashes, unicode, NUL and 0xFF bytes, a
    non-UTC offset with microseconds, infinite and tiny floats, NULLs."""
    return node_row(
        node_id, execution, input_uri=AWKWARD_TEXT, closure=AWKWARD_BYTES, metadata_=b"",
        started_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=OFFSET), node_execution_created_at=None,
        duration=float("inf") if node_id.endswith("0") else 5e-324, error_code=AWKWARD_TEXT[::-1],
        parent_id=None, dynamic_workflow_remote_closure_reference="",
    )  # fmt: skip


def awkward_task(node_id: str, execution: str) -> TaskExecutionModel:
    row = task_row(node_id, execution=execution)
    row.task_name, row.closure, row.duration = AWKWARD_TEXT, AWKWARD_BYTES, float("-inf")
    row.task_execution_updated_at = datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=OFFSET)
    return row


def columns_of(row: Any) -> dict[str, Any]:
    """The columns as read back, times as UTC instants (SQLite keeps no offset), without those differing by row."""
    values = {c.key: getattr(row, c.key) for c in sa_inspect(type(row)).column_attrs}
    for key in ("id", "node_id", "execution_name"):
        del values[key]
    return {k: v.replace(tzinfo=v.tzinfo or UTC).astimezone(UTC) if isinstance(v, datetime) else v
            for k, v in values.items()}  # fmt: skip


async def test_rows_inserted_together_round_trip_awkward_values(repos: SqlRepositories) -> None:
    """Node and task rows staged together (one INSERT of the rows; PostgreSQL: one JSON parameter) read back as
    they were given, as a row inserted alone (the ORM's INSERT) does, on both databases."""
    async with repos.transaction(batched=True) as tx:
        for execution in ("together", "alone"):
            await tx.executions.add(execution_row(execution))
    async with repos.transaction(batched=True) as tx:
        for i in range(3):
            await tx.node_executions.add(awkward_node(f"n{i}", "together"))
            await tx.task_executions.add(awkward_task(f"n{i}", "together"))
    async with repos.transaction(batched=True) as tx:
        await tx.node_executions.add(awkward_node("n0", "alone"))
    async with repos.transaction(batched=True) as tx:
        await tx.task_executions.add(awkward_task("n0", "alone"))
    async with repos.db.session() as session:
        nodes = {
            (r.execution_name, r.node_id): r for r in (await session.execute(select(NodeExecutionModel))).scalars()
        }
        tasks = {
            (r.execution_name, r.node_id): r for r in (await session.execute(select(TaskExecutionModel))).scalars()
        }
    expected_node, expected_task = awkward_node("n0", "x"), awkward_task("n0", "x")
    for key, given in (("input_uri", AWKWARD_TEXT), ("closure", AWKWARD_BYTES), ("duration", float("inf"))):
        assert getattr(nodes["together", "n0"], key) == given
    assert nodes["together", "n1"].duration == 5e-324 and nodes["together", "n0"].parent_id is None
    assert tasks["together", "n0"].task_name == AWKWARD_TEXT and tasks["together", "n0"].duration == float("-inf")
    if repos.db.dialect == "postgresql":  # SQLite keeps the wall time and drops the offset, alone as together
        assert columns_of(nodes["together", "n0"])["started_at"] == expected_node.started_at
        updated = columns_of(tasks["together", "n0"])["task_execution_updated_at"]
        assert updated == expected_task.task_execution_updated_at
    assert columns_of(nodes["together", "n0"]) == columns_of(nodes["alone", "n0"])
    assert columns_of(tasks["together", "n0"]) == columns_of(tasks["alone", "n0"])


async def test_rows_updated_together_round_trip_awkward_values(repos: SqlRepositories) -> None:
    """Node and task rows changed together (one version-checked UPDATE of the rows; PostgreSQL: one JSON parameter)
    read back as they were set, NULLs included, each row's version moved on by one."""
    async with repos.transaction(batched=True) as tx:
        await tx.executions.add(execution_row("e1"))
        for i in range(2):
            await tx.node_executions.add(node_row(f"n{i}", node_execution_created_at=T0))
            await tx.task_executions.add(task_row(f"n{i}"))
    later_time = datetime(2026, 3, 4, 5, 6, 7, 1, tzinfo=OFFSET)
    async with repos.transaction(batched=True) as tx:
        for i in range(2):
            node = await tx.node_executions.get(nid(f"n{i}"), for_update=True)
            task = await tx.task_executions.get(tid(f"n{i}"), for_update=True)
            assert node is not None and task is not None
            node.input_uri, node.closure, node.metadata_ = AWKWARD_TEXT, AWKWARD_BYTES, AWKWARD_BYTES[::-1]
            node.started_at, node.node_execution_created_at, node.duration = later_time, None, float("inf")
            task.task_name, task.closure, task.duration, task.is_parent = AWKWARD_TEXT[::-1], b"\x00", 0.1, True
    async with repos.db.session() as session:
        nodes = list((await session.execute(select(NodeExecutionModel))).scalars())
        tasks = list((await session.execute(select(TaskExecutionModel))).scalars())
    for node in nodes:
        assert (node.input_uri, node.closure, node.metadata_) == (AWKWARD_TEXT, AWKWARD_BYTES, AWKWARD_BYTES[::-1])
        assert node.node_execution_created_at is None and node.duration == float("inf") and node.version == 2
        if repos.db.dialect == "postgresql":  # SQLite keeps the wall time and drops the offset
            assert node.started_at == later_time
    for task in tasks:
        assert (task.task_name, task.closure, task.duration, task.is_parent) == (AWKWARD_TEXT[::-1], b"\x00", 0.1, True)
        assert task.version == 2


async def test_a_nul_in_text_is_treated_together_as_alone(repos: SqlRepositories) -> None:
    """PostgreSQL's text holds no NUL: the rows' INSERT fails (the group's events are then recorded one by one,
    each refused or recorded on its own), as the ORM's INSERT of the row alone does. SQLite's text holds it: rows
    written together keep it as a row written alone does."""
    async with repos.transaction(batched=True) as tx:
        await tx.executions.add(execution_row("e1"))
    if repos.db.dialect == "postgresql":
        for rows in (2, 1):
            with pytest.raises(DBAPIError):
                async with repos.transaction(batched=True) as tx:
                    for i in range(rows):
                        await tx.node_executions.add(node_row(f"n{i}", input_uri="a\x00b"))
        async with repos.transaction(reads=True) as tx:
            assert await tx.node_executions.get(nid("n0")) is None
        return
    for prefix, rows in (("together", 2), ("alone", 1)):
        async with repos.transaction(batched=True) as tx:
            for i in range(rows):
                await tx.node_executions.add(node_row(f"{prefix}{i}", input_uri="a\x00b"))
    async with repos.transaction(reads=True) as tx:
        for name in ("together0", "together1", "alone0"):
            node = await tx.node_executions.get(nid(name))
            assert node is not None and node.input_uri == "a\x00b"
