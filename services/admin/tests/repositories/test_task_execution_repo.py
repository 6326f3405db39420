"""TaskExecutionRepo: one row per attempt, attempts listed in order, version-checked updates."""

from __future__ import annotations

import pytest

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import Aborted, AlreadyExists

from .conftest import nid, task_row, tid, wid


async def test_attempts_are_separate_rows_listed_in_order(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for attempt in (2, 0, 1):
            await tx.task_executions.add(task_row("n0", attempt))
        await tx.task_executions.add(task_row("n1", 0))
        await tx.task_executions.add(task_row("n0", 0, execution="e2"))
    async with repos.transaction() as tx:
        rows, token = await tx.task_executions.page(nid("n0"), ListQuery(limit=10))
        assert [r.retry_attempt for r in rows] == [0, 1, 2] and token == ""
        row = await tx.task_executions.get(tid("n0", 1))
        assert row is not None and row.retry_attempt == 1
        assert await tx.task_executions.get(tid("n0", 3)) is None
        assert len(await tx.task_executions.all_of(wid("e1"))) == 4
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            await tx.task_executions.add(task_row("n0", 1))
            await tx.flush()


async def test_stale_update_is_aborted(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.task_executions.add(task_row())
    with pytest.raises(Aborted):
        async with repos.transaction() as stale:
            row = await stale.task_executions.get(tid())
            assert row is not None
            async with repos.transaction() as winner:
                fresh = await winner.task_executions.get(tid(), for_update=True)
                assert fresh is not None
                fresh.phase_version = 5
            row.phase_version = 1
            await stale.flush()
    async with repos.transaction() as tx:
        row = await tx.task_executions.get(tid())
        assert row is not None and row.phase_version == 5
