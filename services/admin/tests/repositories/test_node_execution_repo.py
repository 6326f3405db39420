"""NodeExecutionRepo: identity per (execution, node id), staged inserts, parent/child listing."""

from __future__ import annotations

import pytest

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import Aborted, AlreadyExists, InvalidArgument

from .conftest import execution_row, nid, node_row, wid


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
