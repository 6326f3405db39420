"""Group commit of hand-off marks: concurrent callers share transactions, each returns once its row is committed,
and a failed commit fails every caller of that batch (and no other)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from flyteidl.core import identifier_pb2

from aloft_admin.managers.handoff_marks import HandedOffMarks, StartedMarks
from aloft_service.errors import Unavailable


def wid(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=name)


class FakeExecutions:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.pending = {"a", "b", "c"}

    async def mark_started_each(self, wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier]) -> None:
        self.batches.append([w.name for w in wids])

    async def mark_handed_off_each(
        self, wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier], cluster: str, shard_key: str, now: datetime
    ) -> set[tuple[str, str, str, str]]:
        self.batches.append([f"{w.name}@{cluster}" for w in wids])
        return {(w.org, w.project, w.domain, w.name) for w in wids if w.name in self.pending}


class FakeRepos:
    """Counts transactions; the first ``fail`` commits raise UNAVAILABLE."""

    def __init__(self, fail: int = 0) -> None:
        self.executions = FakeExecutions()
        self.commits = 0
        self.fail = fail

    @asynccontextmanager
    async def handoff_marks(self, *, one_statement: bool) -> AsyncIterator[Any]:
        yield self.executions
        await asyncio.sleep(0)  # the commit's round trip: callers arriving meanwhile form the next batch
        if self.fail:
            self.fail -= 1
            raise Unavailable("database away")
        self.commits += 1


async def test_concurrent_marks_share_transactions_and_all_return_after_their_commit() -> None:
    repos = FakeRepos()
    marks = StartedMarks(repos)  # type: ignore[arg-type]
    await asyncio.gather(*(marks.submit(wid(f"e{i}")) for i in range(20)))
    assert sorted(n for batch in repos.executions.batches for n in batch) == sorted(f"e{i}" for i in range(20))
    assert repos.commits == len(repos.executions.batches) < 20


async def test_handed_off_answers_per_row_and_groups_by_cluster() -> None:
    repos = FakeRepos()
    marks = HandedOffMarks(repos, lambda: datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
    got = await asyncio.gather(
        marks.submit((wid("a"), "c1", "")), marks.submit((wid("gone"), "c1", "")), marks.submit((wid("b"), "c2", ""))
    )
    assert got == [True, False, True]
    assert repos.executions.batches == [["a@c1", "gone@c1"], ["b@c2"]]  # one statement per data plane, one commit
    assert repos.commits == 1


async def test_a_failed_commit_fails_its_batch_only() -> None:
    repos = FakeRepos(fail=1)
    marks = StartedMarks(repos)  # type: ignore[arg-type]
    first = asyncio.ensure_future(marks.submit(wid("x")))
    await asyncio.sleep(0)  # the writer is scheduled with x alone; y arrives during its commit
    second = asyncio.ensure_future(marks.submit(wid("y")))
    with pytest.raises(Unavailable):
        await first
    await second
    assert repos.commits == 1
