"""OutboxRepo: rows staged in a transaction commit (or roll back) with it, come back per stream in id order, back
off individually; one holder of a stream's lease at a time, until it expires; after-commit callbacks once per key."""

from __future__ import annotations

import pytest

from aloft_admin.repositories.sql import SqlRepositories

from .conftest import T0, later


async def test_rows_commit_with_their_transaction_in_order(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for n in range(3):
            tx.outbox.add("a", "k", f"a{n}".encode(), T0)
        tx.outbox.add("b", "k", b"b0", T0)
    with pytest.raises(RuntimeError):
        async with repos.transaction() as tx:
            tx.outbox.add("a", "k", b"lost", T0)
            raise RuntimeError("the event's transaction failed")
    async with repos.transaction() as tx:
        assert [r.payload for r in await tx.outbox.head("a", 10)] == [b"a0", b"a1", b"a2"]
        assert [r.payload for r in await tx.outbox.head("a", 2)] == [b"a0", b"a1"]
        assert await tx.outbox.has_rows("b") and not await tx.outbox.has_rows("c")


async def test_deferred_rows_wait_and_removed_rows_are_gone(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for n in range(3):
            tx.outbox.add("s", "k", f"{n}".encode(), T0)
    async with repos.transaction() as tx:
        first, second, _ = await tx.outbox.head("s", 10)
        await tx.outbox.defer(first.id, 1, later(60), "boom")
        await tx.outbox.remove([second.id])
    async with repos.transaction() as tx:
        assert [r.payload for r in await tx.outbox.due("s", later(1), 10)] == [b"2"]
        head = await tx.outbox.head("s", 10)  # an ordered reader still sees the backing-off head
        assert [(r.payload, r.attempts, r.last_error) for r in head] == [(b"0", 1, "boom"), (b"2", 0, "")]
        assert [r.payload for r in await tx.outbox.due("s", later(61), 10)] == [b"0", b"2"]


async def test_one_lease_holder_until_it_expires(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        assert await tx.outbox.claim_lease("s", "one", T0, later(15))
    async with repos.transaction() as tx:
        assert not await tx.outbox.claim_lease("s", "two", later(5), later(20))
        assert await tx.outbox.claim_lease("s", "one", later(5), later(20))  # renewed
        assert await tx.outbox.claim_lease("other", "two", later(5), later(20))  # per stream
    async with repos.transaction() as tx:
        assert await tx.outbox.claim_lease("s", "two", later(21), later(36))  # expired: taken over
        await tx.outbox.release_lease("s", "one")  # not the holder any more: nothing happens
    async with repos.transaction() as tx:
        assert not await tx.outbox.claim_lease("s", "one", later(22), later(37))
        await tx.outbox.release_lease("s", "two")
    async with repos.transaction() as tx:
        assert await tx.outbox.claim_lease("s", "one", later(23), later(38))


async def test_after_commit_runs_once_per_key_and_never_on_rollback(repos: SqlRepositories) -> None:
    calls: list[str] = []
    async with repos.transaction() as tx:
        for _ in range(3):
            tx.outbox.after_commit("a", lambda: calls.append("a"))
        tx.outbox.after_commit("b", lambda: calls.append("b"))
        assert calls == []
    assert sorted(calls) == ["a", "b"]
    with pytest.raises(RuntimeError):
        async with repos.transaction() as tx:
            tx.outbox.after_commit("c", lambda: calls.append("c"))
            raise RuntimeError("rolled back")
    assert sorted(calls) == ["a", "b"]
