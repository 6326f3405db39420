"""Execution rows are written with a version check: a writer holding a stale copy gets ABORTED instead of
overwriting a concurrent update; concurrent first events for one node both succeed (SQLite and PostgreSQL)."""

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


async def test_concurrent_first_events_for_one_node_both_succeed(exec_server: Any) -> None:
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
    await asyncio.gather(*(admin.CreateNodeEvent(running(node)) for node in nodes for _ in range(2)))
    listed = await admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=20)
    )
    assert sorted(n.id.node_id for n in listed.node_executions) == sorted(nodes)
    assert {n.closure.phase for n in listed.node_executions} == {core.NodeExecution.RUNNING}
