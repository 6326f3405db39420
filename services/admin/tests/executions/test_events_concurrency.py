"""Execution rows are written with a version check: a writer holding a stale copy gets ABORTED instead of
overwriting a concurrent update; concurrent first events for one node create it once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2

from aloft_admin.repositories.sql import executions as repo
from aloft_service.errors import Aborted


async def test_stale_writer_is_aborted(exec_server: Any) -> None:
    deps, wid = exec_server.deps, exec_server.wid("race")
    await exec_server.seed_execution("race")
    async with deps.db.sessions() as stale_session:
        stale = await repo.find_execution(stale_session, wid)
        assert stale is not None and stale.version == 1

        async with deps.db.session() as winner_session:
            winner = await repo.find_execution(winner_session, wid, for_update=True)
            assert winner is not None
            winner.phase = "RUNNING"
            await repo.flush_checked(winner_session)

        stale.phase = "FAILED"
        with pytest.raises(Aborted):
            await repo.flush_checked(stale_session)
        await stale_session.rollback()

    async with deps.db.session() as session:
        final = await repo.find_execution(session, wid)
        assert final is not None and (final.phase, final.version) == ("RUNNING", 2)


async def test_concurrent_first_events_for_one_node_create_it_once(exec_server: Any) -> None:
    admin, wid = exec_server.admin, exec_server.wid("burst")
    await exec_server.seed_execution("burst")

    def running(node: str) -> admin_event_pb2.NodeExecutionEventRequest:
        event = event_pb2.NodeExecutionEvent(
            id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=wid),
            phase=core.NodeExecution.RUNNING,
            producer_id="east",
        )
        event.occurred_at.FromDatetime(datetime.now(UTC))
        return admin_event_pb2.NodeExecutionEventRequest(event=event)

    nodes = [f"n{i}" for i in range(8)]
    results = await asyncio.gather(
        *(admin.CreateNodeEvent(running(node)) for node in nodes for _ in range(2)), return_exceptions=True
    )
    # Per node: one creates the row; the other, whether it lost the insert or came second, finds RUNNING
    # recorded and answers ALREADY_EXISTS (a duplicate, as flyteadmin answers).
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == len(nodes), results
    assert all(isinstance(r, grpc.aio.AioRpcError) and r.code() == grpc.StatusCode.ALREADY_EXISTS for r in failed)
    listed = await admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=20)
    )
    assert sorted(n.id.node_id for n in listed.node_executions) == sorted(nodes)
    assert {n.closure.phase for n in listed.node_executions} == {core.NodeExecution.RUNNING}


async def test_a_burst_of_events_for_one_node_never_loses_the_terminal_one(exec_server: Any) -> None:
    """50 concurrent events for one node (repeated QUEUED/RUNNING, one SUCCEEDED): on SQLite there is no row lock,
    so writers race on the row's version; admin retries the losers itself. Every call answers OK, ALREADY_EXISTS
    (phase already recorded) or FAILED_PRECONDITION (arrived after the terminal event), never ABORTED, and the
    node ends SUCCEEDED."""
    admin, wid = exec_server.admin, exec_server.wid("burst50")
    await exec_server.seed_execution("burst50")
    node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=wid)

    def request(phase: int) -> admin_event_pb2.NodeExecutionEventRequest:
        event = event_pb2.NodeExecutionEvent(id=node, phase=phase, producer_id="east")
        event.occurred_at.FromDatetime(datetime.now(UTC))
        return admin_event_pb2.NodeExecutionEventRequest(event=event)

    phases = [core.NodeExecution.QUEUED, core.NodeExecution.RUNNING] * 25
    phases[37] = core.NodeExecution.SUCCEEDED
    results = await asyncio.gather(*(admin.CreateNodeEvent(request(p)) for p in phases), return_exceptions=True)
    codes = [r.code() if isinstance(r, grpc.aio.AioRpcError) else r for r in results]
    unexpected = [
        c
        for c in codes
        if isinstance(c, grpc.StatusCode)
        and c not in (grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION)
    ]
    assert not unexpected, codes
    assert not isinstance(results[37], BaseException), results[37]
    got = await admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node))
    assert got.closure.phase == core.NodeExecution.SUCCEEDED
