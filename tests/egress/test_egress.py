"""Cloud events and notifications of real executions: unmodified flytekit registers and runs workflows on the real
datacatalog, admin and propeller processes; admin publishes to a real nats-server (JetStream) and emails through a
real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import defaultdict
from email import message_from_bytes
from typing import Any

import grpc
import nats
import pytest
from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc
from nats.js.errors import NotFoundError

from aloft_testing.servers import ThrowawayNats

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

STREAM, SUBJECT = "flyte-events", "flyte.events"
WORKFLOW_REQUEST = "com.flyte.resource.flyteidl.admin.WorkflowExecutionEventRequest"
NODE_REQUEST = "com.flyte.resource.flyteidl.admin.NodeExecutionEventRequest"
TASK_REQUEST = "com.flyte.resource.flyteidl.admin.TaskExecutionEventRequest"


def outbox_rows(stack: Any) -> int:
    with sqlite3.connect(stack.root / "data" / "admin.db") as db:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def wait_drained(stack: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while outbox_rows(stack):
        assert time.monotonic() < deadline, f"admin's outbox still holds {outbox_rows(stack)} rows"
        time.sleep(0.2)


async def _stream(broker: ThrowawayNats) -> list[dict[str, Any]]:
    """What a NATS subscriber receives: a JetStream ordered consumer of the subject, from the stream's start."""
    nc = await nats.connect(broker.url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(STREAM)
        except NotFoundError:  # admin creates it with its first publish
            return []
        subscription = await js.subscribe(SUBJECT, ordered_consumer=True)
        received: list[dict[str, Any]] = []
        while len(received) < info.state.messages:
            message = await subscription.next_msg(timeout=10)
            assert message.subject == SUBJECT
            received.append(json.loads(message.data or b""))
        await subscription.unsubscribe()
        return received
    finally:
        await nc.close()


def stream_events(broker: ThrowawayNats) -> list[dict[str, Any]]:
    import asyncio

    return asyncio.run(_stream(broker))


def of_execution(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    def execution_name(event: dict[str, Any]) -> str:
        body = event["data"]["event"]
        if event["type"] == WORKFLOW_REQUEST:
            return str(body["executionId"]["name"])
        if event["type"] == NODE_REQUEST:
            return str(body["id"]["executionId"]["name"])
        return str(body["parentNodeExecutionId"]["executionId"]["name"])

    return [e for e in events if execution_name(e) == name]


def entity_of(event: dict[str, Any]) -> tuple[str, ...]:
    body = event["data"]["event"]
    if event["type"] == WORKFLOW_REQUEST:
        return ("workflow",)
    if event["type"] == NODE_REQUEST:
        return ("node", body["id"]["nodeId"])
    return ("task", body["parentNodeExecutionId"]["nodeId"], str(body.get("retryAttempt", 0)))


def test_every_event_of_an_execution_arrives_as_a_cloud_event_across_a_nats_restart(
    stack: Any, registered: str, broker: ThrowawayNats
) -> None:
    before = len(stream_events(broker))
    result: dict[str, Any] = {}
    run = threading.Thread(
        target=lambda: result.update(stack.driver("run-flow", registered, "flows.notify.chain", '{"x": 1}'))
    )
    run.start()
    deadline = time.monotonic() + 120
    while len(stream_events(broker)) <= before:  # the execution is under way and publishing
        assert time.monotonic() < deadline and run.is_alive(), "no cloud event arrived"
        time.sleep(0.1)
    broker.stop()
    time.sleep(3)  # events keep being accepted while NATS is down
    broker.start()  # same port and JetStream store
    run.join(300)
    assert result.get("phase") == core.WorkflowExecution.SUCCEEDED, result
    wait_drained(stack)
    assert "cloud events: NATS connection" in stack.log_tail("admin", 5000)  # admin did lose the broker

    events = of_execution(stream_events(broker), result["name"])
    assert len({e["id"] for e in events}) == len(events)  # none twice (JetStream de-duplicates by event id)
    phases: dict[tuple[str, ...], list[str]] = defaultdict(list)
    times: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for event in events:
        assert event["source"] == "https://github.com/flyteorg/flyte/flyteadmin"
        phases[entity_of(event)].append(event["data"]["event"]["phase"])
        times[entity_of(event)].append(event["data"]["event"]["occurredAt"])
    assert phases[("workflow",)][-1] == "SUCCEEDED" and "RUNNING" in phases[("workflow",)]
    for entity, order in times.items():
        assert order == sorted(order), (entity, phases[entity])  # in order per entity

    # Nothing lost: every node and task execution admin recorded arrived, ending in the phase admin holds.
    wid = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=result["name"])
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        nodes = admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=100)
        )
        task_phases = {}
        for node in nodes.node_executions:
            assert phases[("node", node.id.node_id)][-1] == core.NodeExecution.Phase.Name(node.closure.phase)
            tasks = admin.ListTaskExecutions(
                task_execution_pb2.TaskExecutionListRequest(node_execution_id=node.id, limit=100)
            )
            for task in tasks.task_executions:
                key = ("task", node.id.node_id, str(task.id.retry_attempt))
                task_phases[key] = core.TaskExecution.Phase.Name(task.closure.phase)
    assert len(nodes.node_executions) >= 3 and len(task_phases) == 3
    for key, phase in task_phases.items():
        assert phases[key][-1] == phase == "SUCCEEDED", (key, phases[key])
    assert set(phases) == {("workflow",)} | {("node", n.id.node_id) for n in nodes.node_executions} | set(task_phases)


def test_a_failed_execution_emails_its_launch_plan_recipients(stack: Any, registered: str, inbox: Any) -> None:
    result = stack.driver("run", registered, "failing_notifies", "{}", "--launch-plan", "--timeout", "240")
    assert result["phase"] == core.WorkflowExecution.FAILED, result
    deadline = time.monotonic() + 60
    while not any(result["name"] in m.decode(errors="replace") for _, m in inbox.messages):
        assert time.monotonic() < deadline, f"no email for {result['name']}: {stack.log_tail('admin')}"
        time.sleep(0.2)
    mails = [(rcpt, message_from_bytes(raw)) for rcpt, raw in inbox.messages if result["name"].encode() in raw]
    assert [rcpt for rcpt, _ in mails] == [["oncall@example.com"]]  # not the SUCCEEDED recipient
    mail = mails[0][1]
    assert mail["Subject"] == 'Execution "flows.notify.failing" has failed in "development".'
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert body.startswith(
        f"Execution {result['name']} of failing_notifies has failed in flytesnacks. The execution failed with error: ["
    )
    assert "boom: x was 3" in body
