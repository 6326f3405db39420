"""Crash safety (stop the engine mid-run, restart on the same store: no attempt runs twice, nothing is lost) and
admin's event answers (replays absorbed, terminal-state refusals honoured)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from flyteidl.core import execution_pb2

WF = execution_pb2.WorkflowExecution
NODE = execution_pb2.NodeExecution


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
async def test_restart_mid_run_never_runs_an_attempt_twice(stack: Any) -> None:
    stack.plugin.durations.update({"add_one": 0.15, "double": 0.15, "to_str": 0.15})
    ids = [await stack.create("chain", {"x": i}) for i in range(20)]
    for _ in range(3):
        await asyncio.sleep(0.25)
        await stack.stop()  # workers are cancelled wherever they are: mid-round, mid-persist, mid-delivery
        await stack.start()
    for i, execution_id in enumerate(ids):
        status = await stack.wait(execution_id)
        assert status.phase == WF.SUCCEEDED, status
        assert await stack.outputs(execution_id) == {"o0": str((i + 1) * 2)}
    starts = stack.plugin.starts()
    assert len(starts) == 60 and not [uid for uid, n in Counter(starts).items() if n > 1]
    for execution_id in ids:
        for node_id in ("n0", "n1", "n2"):
            phases = stack.admin.node_phases(execution_id.name, node_id)
            assert phases == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED], (execution_id.name, node_id, phases)
        assert stack.admin.workflow_phases(execution_id.name) == [WF.RUNNING, WF.SUCCEEDED]


async def test_admin_terminal_refusal_stops_the_execution_here(stack: Any) -> None:
    stack.plugin.durations["add_one"] = 600.0
    stack.admin.refuse_workflows_as_terminal = True
    execution_id = await stack.create("chain", {"x": 1})
    status = await stack.wait(execution_id, wait_for_events=False)
    # Admin said the execution is already terminal: the data plane aborts it locally and stops reporting.
    assert status.phase == WF.ABORTED
    assert "already terminal" in status.abort_cause
    assert stack.admin.workflow_phases(execution_id.name) == []
    await asyncio.sleep(0.3)
    assert stack.admin.workflow_phases(execution_id.name) == []


async def test_create_is_idempotent_and_resumes_after_restart(stack: Any) -> None:
    stack.plugin.durations["add_one"] = 0.3
    execution_id = await stack.create("chain", {"x": 5}, name="same")
    await stack.stop()
    await stack.start()
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": "12"}


async def test_transient_admin_errors_are_retried_and_nothing_is_lost(stack: Any) -> None:
    stack.admin.unavailable_calls = 12  # more than one send's retries: the round is requeued with backoff too
    execution_id = await stack.create("chain", {"x": 2})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED
    assert stack.admin.refused_unavailable == 12
    assert stack.admin.workflow_phases(execution_id.name) == [WF.RUNNING, WF.SUCCEEDED]
    for node_id in ("n0", "n1", "n2"):
        assert stack.admin.node_phases(execution_id.name, node_id) == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED]


async def test_slow_admin_gets_every_event_once_and_in_order(stack: Any) -> None:
    """Events go to admin in the background while rounds go on: a slow admin still gets each event once, in order,
    and the execution is terminal here only once admin has its last event."""
    stack.admin.event_delay = 0.05
    execution_id = await stack.create("chain", {"x": 2})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED
    assert stack.admin.workflow_phases(execution_id.name) == [WF.RUNNING, WF.SUCCEEDED]
    for node_id in ("n0", "n1", "n2"):
        assert stack.admin.node_phases(execution_id.name, node_id) == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED]
    assert stack.admin.replays == 0
    assert await stack.outputs(execution_id) == {"o0": "6"}


async def test_events_admin_acknowledged_are_not_sent_again_while_tasks_run(stack: Any) -> None:
    """While a task runs, rounds go on without writing anything; whatever drops the cached record meanwhile (the
    periodic re-scan every workflow-reeval-duration, a write to another execution) must not bring back events admin
    has already acknowledged: admin takes a re-sent QUEUED after RUNNING as a new event and publishes it again."""
    for task in ("add_one", "double", "square", "to_str"):
        stack.plugin.durations[task] = 2.5  # a few re-scans (1 s) per task
    execution_id = await stack.create("chain", {"x": 2})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED
    assert stack.admin.replays == 0
    assert stack.admin.workflow_phases(execution_id.name) == [WF.RUNNING, WF.SUCCEEDED]
    for node_id in ("n0", "n1", "n2"):
        assert stack.admin.node_phases(execution_id.name, node_id) == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED]
