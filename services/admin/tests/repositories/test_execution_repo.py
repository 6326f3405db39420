"""ExecutionRepo: identity, version-checked updates, listing, and the conditional hand-off/abort updates."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from flyteidl.admin import common_pb2, execution_pb2

from aloft_admin.repositories.base import RowsRefused
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import Aborted, AlreadyExists, InvalidArgument

from .conftest import T0, execution_row, later, new_execution, wid

SCOPE = common_pb2.NamedEntityIdentifier(project="p", domain="d")


async def test_add_get_and_duplicate_name(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.executions.add(execution_row("e1", cluster="c1"))
        assert await tx.executions.get(wid("e2")) is None
    async with repos.transaction() as tx:
        row = await tx.executions.get(wid("e1"))
        assert row is not None and row.name == "e1"
        assert await tx.executions.get_by_row_id(row.id) is row
        assert await tx.executions.cluster_of(wid("e1")) == "c1"
        assert await tx.executions.cluster_of(wid("nope")) is None
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            await tx.executions.add(execution_row("e1"))
    async with repos.transaction() as tx:  # another project may use the name
        await tx.executions.add(execution_row("e1", project="other"))


async def test_insert_executions_commits_on_its_own_and_skips_a_used_name(repos: SqlRepositories) -> None:
    row = new_execution("e1", cluster="c1")
    assert await repos.insert_executions([row]) == [True]
    async with repos.transaction(reads=True) as tx:
        found = await tx.executions.get(wid("e1"))
        assert found is not None and found.id == row.id and found.cluster == "c1"
    assert await repos.insert_executions([new_execution("e1")]) == [False]
    assert await repos.insert_executions([new_execution("e1", project="other")]) == [True]  # another project's
    async with repos.transaction(reads=True) as tx:
        assert (await tx.executions.get(wid("e1", project="other"))) is not None


async def test_insert_executions_writes_many_in_one_call_and_skips_taken_names(repos: SqlRepositories) -> None:
    await repos.insert_executions([new_execution("taken")])
    rows = [new_execution("n1"), new_execution("taken"), new_execution("n2", cluster="c1")]
    assert await repos.insert_executions(rows) == [True, False, True]
    async with repos.transaction(reads=True) as tx:
        n1, n2, taken = [await tx.executions.get(wid(n)) for n in ("n1", "n2", "taken")]
        assert n1 is not None and n1.id == rows[0].id
        assert n2 is not None and (n2.id, n2.cluster) == (rows[2].id, "c1")
        assert taken is not None and taken.cluster == ""  # the first row stays as it was
    with pytest.raises(ValueError, match="distinct names"):
        await repos.insert_executions([new_execution("n3"), new_execution("n3")])
    bad = new_execution("n4", phase=None)  # a NOT NULL column without a default: the statement is refused
    with pytest.raises(RowsRefused):
        await repos.insert_executions([new_execution("n5"), bad])
    async with repos.transaction(reads=True) as tx:
        assert await tx.executions.get(wid("n5")) is None  # nothing of a refused statement is written


async def test_insert_executions_writes_every_column_as_given_and_defaults_the_unset(repos: SqlRepositories) -> None:
    started = T0 + timedelta(seconds=1, microseconds=250)
    given = new_execution(
        "full", spec=b"\x00\xffspec", closure=b"", handoff_request=bytes(range(256)), started_at=started,
        parent_node_execution_id=7, duration=1.5, abort_pending=True, tags="a,b", principal="ünïcode \"q\" \\",
    )  # fmt: skip
    plain = new_execution("plain")
    assert await repos.insert_executions([given, plain]) == [True, True]
    async with repos.transaction(reads=True) as tx:
        full, defaults = await tx.executions.get(wid("full")), await tx.executions.get(wid("plain"))
    assert full is not None and defaults is not None
    assert (full.spec, full.closure, full.handoff_request) == (b"\x00\xffspec", b"", bytes(range(256)))
    times = (full.started_at, full.created_at, full.execution_created_at)
    assert [t and t.replace(tzinfo=t.tzinfo or UTC) for t in times] == [started, T0, T0]  # SQLite's are naive UTC
    assert (full.parent_node_execution_id, full.duration, full.abort_pending) == (7, 1.5, True)
    assert (full.tags, full.principal) == ("a,b", 'ünïcode "q" \\')
    assert (defaults.handoff, defaults.version, defaults.state, defaults.cluster) == ("pending", 1, 0, "")
    assert (defaults.handoff_request, defaults.started_at, defaults.parent_node_execution_id) == (None, None, None)


def test_a_new_execution_refuses_values_of_no_column() -> None:
    with pytest.raises(ValueError, match="not columns of a new execution: \\['clustr'\\]"):
        new_execution("e1", clustr="c1")
    assert new_execution("e1", org="o").key == ("o", "p", "d", "e1")


async def test_a_concurrent_update_aborts_the_stale_writer(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.executions.add(execution_row("e1"))
    with pytest.raises(Aborted):
        async with repos.transaction() as stale:
            row = await stale.executions.get(wid("e1"))
            assert row is not None
            async with repos.transaction() as winner:
                fresh = await winner.executions.get(wid("e1"))
                assert fresh is not None
                fresh.phase = "RUNNING"
            row.phase = "FAILED"
            await stale.flush()
    async with repos.transaction() as tx:
        row = await tx.executions.get(wid("e1"))
        assert row is not None and row.phase == "RUNNING"


async def test_page_newest_first_hides_archived_and_filters(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for i in range(5):
            await tx.executions.add(execution_row(f"e{i}", phase="SUCCEEDED" if i % 2 else "FAILED"))
        await tx.executions.add(execution_row("old", state=execution_pb2.ExecutionState.EXECUTION_ARCHIVED))
    async with repos.transaction() as tx:
        rows, token = await tx.executions.page(SCOPE, ListQuery(limit=3))
        assert [r.name for r in rows] == ["e4", "e3", "e2"] and token == "3"
        rows, token = await tx.executions.page(SCOPE, ListQuery(limit=3, token=token))
        assert [r.name for r in rows] == ["e1", "e0"] and token == ""
        rows, _ = await tx.executions.page(SCOPE, ListQuery(limit=10, filters="eq(phase,SUCCEEDED)"))
        assert {r.name for r in rows} == {"e1", "e3"}
        rows, _ = await tx.executions.page(SCOPE, ListQuery(limit=10, filters="eq(state,ARCHIVED)"))
        assert [r.name for r in rows] == ["old"]
        with pytest.raises(InvalidArgument, match="nope"):
            await tx.executions.page(SCOPE, ListQuery(limit=10, filters="eq(nope,1)"))


async def test_mark_handed_off_only_moves_a_pending_row(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.executions.add(execution_row("e1"))
        await tx.executions.add(execution_row("e2", phase="RUNNING"))
        await tx.executions.add(execution_row("e3", handoff="cancelled"))
    async with repos.transaction() as tx:
        assert await tx.executions.mark_handed_off(wid("e1"), "c1", "shard-a", later(1))
        assert await tx.executions.mark_handed_off(wid("e2"), "c1", "", later(1))
        assert not await tx.executions.mark_handed_off(wid("e3"), "c1", "", later(1))
        assert not await tx.executions.mark_handed_off(wid("e1"), "c2", "", later(2))  # no longer pending
    async with repos.transaction() as tx:
        e1, e2, e3 = [await tx.executions.get(wid(n)) for n in ("e1", "e2", "e3")]
        assert e1 is not None and (e1.handoff, e1.phase, e1.cluster, e1.shard_key) == (
            "starting",
            "QUEUED",
            "c1",
            "shard-a",
        )
        assert e2 is not None and e2.phase == "RUNNING"  # a later phase stays
        assert e3 is not None and (e3.handoff, e3.cluster) == ("cancelled", "")
        await tx.executions.mark_started(wid("e1"))
        await tx.executions.mark_started(wid("e3"))  # only a starting row moves on
    async with repos.transaction() as tx:
        e1, e3 = [await tx.executions.get(wid(n)) for n in ("e1", "e3")]
        assert e1 is not None and e1.handoff == "done"
        assert e3 is not None and e3.handoff == "cancelled"


async def test_hand_off_marks_for_several_rows_move_only_those_in_the_right_state(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.executions.add(execution_row("p1"))
        await tx.executions.add(execution_row("p2"))
        await tx.executions.add(execution_row("gone", handoff="cancelled"))
    async with repos.transaction() as tx:
        moved = await tx.executions.mark_handed_off_each([wid("p1"), wid("gone"), wid("p2")], "c1", "s", later(1))
        assert moved == {("", "p", "d", "p1"), ("", "p", "d", "p2")}
        await tx.executions.mark_started_each([wid("p1"), wid("gone")])
    async with repos.transaction() as tx:
        p1, p2, gone = [await tx.executions.get(wid(n)) for n in ("p1", "p2", "gone")]
        assert p1 is not None and (p1.handoff, p1.cluster, p1.shard_key) == ("done", "c1", "s")
        assert p2 is not None and p2.handoff == "starting"
        assert gone is not None and (gone.handoff, gone.cluster) == ("cancelled", "")


async def test_hand_off_marks_outside_a_session_commit_on_their_own(repos: SqlRepositories) -> None:
    names = ("p1", "p2", "q1")
    await repos.insert_executions([*(new_execution(n) for n in names), new_execution("gone", handoff="cancelled")])
    async with repos.handoff_marks(one_statement=True) as marks:
        moved = await marks.mark_handed_off_each([wid("p1"), wid("gone"), wid("p2")], "c1", "s", later(1))
        assert moved == {("", "p", "d", "p1"), ("", "p", "d", "p2")}
    async with repos.handoff_marks(one_statement=False) as marks:  # several statements: one transaction
        assert await marks.mark_handed_off_each([wid("q1")], "c2", "", later(1)) == {("", "p", "d", "q1")}
        assert await marks.mark_handed_off_each([wid("p1")], "c2", "", later(2)) == set()  # no longer pending
    async with repos.handoff_marks(one_statement=True) as marks:
        await marks.mark_started_each([wid("p1"), wid("gone")])
    async with repos.transaction(reads=True) as tx:
        p1, p2, q1, gone = [await tx.executions.get(wid(n)) for n in ("p1", "p2", "q1", "gone")]
        assert p1 is not None and (p1.handoff, p1.phase, p1.cluster, p1.shard_key) == ("done", "QUEUED", "c1", "s")
        assert p2 is not None and p2.handoff == "starting"
        assert q1 is not None and (q1.handoff, q1.cluster) == ("starting", "c2")
        assert gone is not None and (gone.handoff, gone.cluster) == ("cancelled", "")


async def test_hand_off_marks_in_one_transaction_leave_nothing_when_it_fails(repos: SqlRepositories) -> None:
    await repos.insert_executions([new_execution("r1")])
    with pytest.raises(RuntimeError):
        async with repos.handoff_marks(one_statement=False) as marks:
            assert await marks.mark_handed_off_each([wid("r1")], "c1", "", later(1))
            raise RuntimeError("the batch's next statement failed")
    async with repos.transaction(reads=True) as tx:
        row = await tx.executions.get(wid("r1"))
        assert row is not None and (row.handoff, row.cluster) == ("pending", "")


async def test_repair_queues_are_due_ordered_and_delays_push_rows_back(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for i in range(3):
            await tx.executions.add(execution_row(f"h{i}", created=later(i)))
        await tx.executions.add(execution_row("done", handoff="done"))
        await tx.executions.add(execution_row("abort", handoff="cancelled", abort_pending=True))
    async with repos.transaction() as tx:
        due = await tx.executions.due_handoffs(later(10), later(1), limit=10)
        assert [r.name for r in due] == ["h0", "h1"]  # h2 is younger than never_tried_before
        assert [r.name for r in await tx.executions.due_handoffs(later(10), later(5), limit=1)] == ["h0"]
        h0 = due[0]
        await tx.executions.delay_handoff(h0.id, "unreachable", later(20))
    async with repos.transaction() as tx:
        assert [r.name for r in await tx.executions.due_handoffs(later(10), later(5), limit=10)] == ["h1", "h2"]
        row = await tx.executions.get(wid("h0"))
        assert row is not None and (row.handoff_attempts, row.handoff_error) == (1, "unreachable")
        assert [r.name for r in await tx.executions.due_handoffs(later(20), later(5), limit=10)][-1] == "h0"
        aborts = await tx.executions.due_aborts(later(10), later(5), limit=10)
        assert [r.name for r in aborts] == ["abort"]
        await tx.executions.delay_abort(aborts[0].id, lambda attempts: later(100 * attempts))
    async with repos.transaction() as tx:
        assert await tx.executions.due_aborts(later(10), later(5), limit=10) == []
        row = await tx.executions.get(wid("abort"))
        assert row is not None and row.abort_attempts == 1 and row.retry_at is not None
        await tx.executions.abort_delivered(row.id)
    async with repos.transaction() as tx:
        row = await tx.executions.get(wid("abort"))
        assert row is not None and (row.abort_pending, row.retry_at) == (False, None)
        assert await tx.executions.due_aborts(later(1000), later(1000), limit=10) == []


async def test_abort_if_cancelled_touches_only_cancelled_rows(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.executions.add(execution_row("cancelled", handoff="cancelled"))
        await tx.executions.add(execution_row("pending"))
    async with repos.transaction() as tx:
        await tx.executions.abort_if_cancelled(wid("cancelled"), "c1")
        await tx.executions.abort_if_cancelled(wid("pending"), "c1")
    async with repos.transaction() as tx:
        cancelled, pending = await tx.executions.get(wid("cancelled")), await tx.executions.get(wid("pending"))
        assert cancelled is not None and (cancelled.abort_pending, cancelled.cluster) == (True, "c1")
        assert pending is not None and (pending.abort_pending, pending.cluster) == (False, "")
