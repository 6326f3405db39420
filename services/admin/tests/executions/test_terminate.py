"""TerminateExecution: the cause is recorded first, then the data plane is asked to abort (retried when down)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import literals_pb2
from flyteidl.event import event_pb2
from google.protobuf import timestamp_pb2
from grpc_status import rpc_status

WF = core.WorkflowExecution


def event(wid: Any, phase: int) -> admin_event_pb2.WorkflowExecutionEventRequest:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return admin_event_pb2.WorkflowExecutionEventRequest(
        event=event_pb2.WorkflowExecutionEvent(execution_id=wid, phase=phase, occurred_at=stamp, producer_id="east")
    )


async def start(exec_server: Any, literals: Any, name: str) -> Any:
    lp_id = await exec_server.register_launch_plan()
    request = execution_pb2.ExecutionCreateRequest(
        project="flytesnacks",
        domain="development",
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
        inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(1)}),
    )
    return (await exec_server.admin.CreateExecution(request)).id


async def get(exec_server: Any, wid: Any) -> execution_pb2.Execution:
    return await exec_server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))


async def test_terminate_running_execution(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    wid = await start(exec_server, literals, "stopme")
    await admin.CreateWorkflowEvent(event(wid, WF.RUNNING))
    await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="user asked"))
    aborting = await get(exec_server, wid)
    assert aborting.closure.phase == WF.ABORTING
    assert aborting.closure.abort_metadata.cause == "user asked"
    assert [(r.id.name, r.cause) for r in fake.aborted] == [("stopme", "user asked")]

    # While aborting, only an end is accepted from the data plane.
    with pytest.raises(grpc.aio.AioRpcError) as not_yet:
        await admin.CreateWorkflowEvent(event(wid, WF.RUNNING))
    assert not_yet.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await admin.CreateWorkflowEvent(event(wid, WF.ABORTED))
    aborted = await get(exec_server, wid)
    assert aborted.closure.phase == WF.ABORTED and aborted.closure.abort_metadata.cause == "user asked"

    with pytest.raises(grpc.aio.AioRpcError) as again:
        await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="twice"))
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(again.value)
    assert status is not None
    reason = admin_event_pb2.EventFailureReason()
    assert status.details[0].Unpack(reason)
    assert reason.already_in_terminal_state.current_phase == "ABORTED"


async def test_terminate_retries_when_data_plane_is_down(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    wid = await start(exec_server, literals, "later")
    fake.failing = True
    await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="cost"))
    assert (await get(exec_server, wid)).closure.phase == WF.ABORTING
    assert fake.aborted == []
    assert (
        await exec_server.managers.handoffs.repair_once() == 0
    )  # still down: stays pending (not retried before its backoff)
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 0
    fake.failing = False
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 1
    assert [r.cause for r in fake.aborted] == ["cost"]
    assert await exec_server.managers.handoffs.repair_once() == 0  # delivered once, not again


async def test_terminate_before_hand_off_ends_it_here(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    fake.failing = True
    wid = await start(exec_server, literals, "never")
    assert (await get(exec_server, wid)).closure.phase == WF.UNDEFINED
    await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="changed my mind"))
    assert fake.aborted == []  # the terminate itself sends nothing: a hand-off may be in flight
    fake.failing = False
    exec_server.skip_ahead()
    # The cancelled hand-off is not retried; its data plane is asked to abort, in case an earlier try left a held
    # run there (admin killed between the data plane's create and its own commit).
    assert await exec_server.managers.handoffs.repair_once() == 1
    assert await exec_server.managers.handoffs.repair_once() == 0
    ended = await get(exec_server, wid)
    assert ended.closure.phase == WF.ABORTED and fake.created == []
    assert [(r.id.name, r.cause) for r in fake.aborted] == [("never", "changed my mind")]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=exec_server.wid("nobody")))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_second_terminate_keeps_first_cause_and_sends_no_second_abort(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    wid = await start(exec_server, literals, "twice")
    await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="first"))
    await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="second"))  # OK: underway
    aborting = await get(exec_server, wid)
    assert aborting.closure.phase == WF.ABORTING and aborting.closure.abort_metadata.cause == "first"
    assert [r.cause for r in fake.aborted] == ["first"]


async def test_concurrent_terminates_send_one_abort_and_keep_the_winning_cause(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    wid = await start(exec_server, literals, "race")
    await admin.CreateWorkflowEvent(event(wid, WF.RUNNING))
    causes = [f"cause-{i}" for i in range(10)]
    results = await asyncio.gather(
        *(admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause=c)) for c in causes),
        return_exceptions=True,
    )
    # Every caller gets a clear answer: OK (recorded, or already being aborted); never ABORTED (retry-me).
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(fake.aborted) == 1
    recorded = (await get(exec_server, wid)).closure.abort_metadata.cause
    assert recorded == fake.aborted[0].cause and recorded in causes


async def test_terminate_during_hand_off_in_flight_aborts_the_run_at_once(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    fake.hold = asyncio.Event()
    creating = asyncio.create_task(start(exec_server, literals, "inflight"))
    await asyncio.wait_for(fake.create_entered.wait(), 30)  # the data plane has the request, not yet answered
    wid = exec_server.wid("inflight")
    await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="stop it"))
    assert (await get(exec_server, wid)).closure.phase == WF.ABORTED
    fake.hold.set()
    await asyncio.wait_for(creating, 30)
    # The data plane accepted the run after the terminate, held (two-phase hand-off): admin never released it and
    # asked it to abort before answering the create, so nothing of it ever ran.
    assert [(r.id.name, r.hold) for r in fake.created] == [("inflight", True)]
    assert fake.started == []
    assert [(r.id.name, r.cause) for r in fake.aborted] == [("inflight", "stop it")]
    ended = await get(exec_server, wid)
    assert ended.closure.phase == WF.ABORTED and ended.closure.abort_metadata.cause == "stop it"
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 0  # nothing left to hand off or abort
    assert len(fake.created) == 1 and len(fake.aborted) == 1


async def test_abort_the_data_plane_cannot_act_on_ends_in_admin(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    wid = await start(exec_server, literals, "gone")
    fake.refuse_abort = grpc.StatusCode.NOT_FOUND  # e.g. the data plane lost or purged it: no ABORTED event will come
    await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="clean up"))
    ended = await get(exec_server, wid)
    assert ended.closure.phase == WF.ABORTED and ended.closure.abort_metadata.cause == "clean up"
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 0  # nothing left pending


async def test_hand_off_is_two_phase_and_a_lost_start_is_repaired(exec_server: Any, literals: Any) -> None:
    """Create with hold, commit, then StartExecution; a start that does not get through is retried by the repair
    loop (the row stays ``starting``), and a terminate after the commit is an ordinary abort."""
    fake = exec_server.dataplane
    fake.start_failing = True
    wid = await start(exec_server, literals, "two-phase")
    assert [(r.id.name, r.hold) for r in fake.created] == [("two-phase", True)] and fake.started == []
    assert (await get(exec_server, wid)).closure.phase == WF.QUEUED
    fake.start_failing = False
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 1
    assert [r.id.name for r in fake.started] == ["two-phase"] and len(fake.created) == 1
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 0  # done: nothing sent again
    await exec_server.admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="later"))
    assert (await get(exec_server, wid)).closure.phase == WF.ABORTING
    assert [(r.id.name, r.cause) for r in fake.aborted] == [("two-phase", "later")]
