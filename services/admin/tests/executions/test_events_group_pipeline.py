"""EventGroups' pipelining, without a database: the next group is staged while the previous one commits (PostgreSQL),
never more than two in flight and one being staged, and no event is answered before its own group has committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aloft_admin.managers.events_group import EventGroups

AT = datetime(2026, 1, 1, tzinfo=UTC)


class GatedCommits:
    """Transactions whose commits wait until the test lets them through, one gate per transaction in order."""

    def __init__(self) -> None:
        self.staged: list[list[str]] = []  # the events of each transaction, once all are staged
        self.committed: list[list[str]] = []
        self.gates: list[asyncio.Event] = []

    @asynccontextmanager
    async def transaction(self, **options: Any) -> AsyncIterator[list[str]]:
        events: list[str] = []
        gate = asyncio.Event()
        self.gates.append(gate)
        yield events
        self.staged.append(events)
        await gate.wait()
        self.committed.append(events)


class Recorder:
    async def record_unless_refused(self, tx: list[str], kind: Any, event: str, at: datetime) -> None:
        tx.append(event)
        await asyncio.sleep(0)  # a statement's round trip


class Kind:
    async def prefetch(self, tx: list[str], events: Sequence[str]) -> None:
        await asyncio.sleep(0)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def start(groups: EventGroups, *events: str) -> list[asyncio.Task[None]]:
    calls = [asyncio.create_task(groups.record(Kind(), event, AT)) for event in events]  # type: ignore[arg-type]
    await settle()
    return calls


async def test_pipelined_groups_stage_the_next_while_one_commits() -> None:
    db = GatedCommits()
    groups = EventGroups(db, Recorder(), pipelined=True)  # type: ignore[arg-type]
    first = await start(groups, "a1", "a2")
    assert db.staged == [["a1", "a2"]] and db.committed == []
    second = await start(groups, "b1", "b2")
    assert db.staged == [["a1", "a2"], ["b1", "b2"]]  # staged while the first commits
    third = await start(groups, "c1", "c2")
    assert len(db.staged) == 2  # two in flight: the third waits
    assert not any(call.done() for call in first + second + third)  # nothing answered before its commit

    db.gates[1].set()  # the second commits first: only its events are answered
    await settle()
    assert all(call.done() for call in second) and not any(call.done() for call in first)
    assert db.staged[2] == ["c1", "c2"]  # and the third group starts
    db.gates[0].set()
    db.gates[2].set()
    await asyncio.gather(*first, *third)
    assert sorted(map(sorted, db.committed)) == [["a1", "a2"], ["b1", "b2"], ["c1", "c2"]]


async def test_one_group_at_a_time_unless_pipelined() -> None:
    db = GatedCommits()
    groups = EventGroups(db, Recorder())  # type: ignore[arg-type]
    first = await start(groups, "a1", "a2")
    second = await start(groups, "b1", "b2")
    assert db.staged == [["a1", "a2"]]  # SQLite: the next group waits for the commit
    db.gates[0].set()
    await asyncio.gather(*first)
    await settle()
    assert db.staged == [["a1", "a2"], ["b1", "b2"]] and not any(call.done() for call in second)
    db.gates[1].set()
    await asyncio.gather(*second)
