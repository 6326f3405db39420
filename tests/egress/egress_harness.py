"""What the egress scenarios share: a stack publishing and emailing as configured, admin's outbox, and what a
subscriber's CloudEvents must show against what admin recorded for an execution."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_testing.stack import QUICK_PROPELLER, Stack, stack_config, stack_ports, started_stack

EGRESS_DIR = Path(__file__).resolve().parent
E2E_DIR = EGRESS_DIR.parent / "e2e"  # driver.py
WORKFLOW_REQUEST = "com.flyte.resource.flyteidl.admin.WorkflowExecutionEventRequest"
NODE_REQUEST = "com.flyte.resource.flyteidl.admin.NodeExecutionEventRequest"
TASK_REQUEST = "com.flyte.resource.flyteidl.admin.TaskExecutionEventRequest"
# v2 types, and where their raw event is
V2_TYPES = {
    "com.flyte.resource.cloudevents.WorkflowExecution": WORKFLOW_REQUEST,
    "com.flyte.resource.cloudevents.NodeExecution": NODE_REQUEST,
    "com.flyte.resource.cloudevents.TaskExecution": TASK_REQUEST,
}


@contextmanager
def egress_stack(root: Path, sections: dict[str, Any]) -> Iterator[Stack]:
    """The e2e stack (aloft_testing.stack) without the scheduler, admin configured with ``sections``, the flows of
    tests/egress/flows registered (``stack.version``) with `pyflyte register`."""
    services = ("datacatalog", "admin", "propeller")
    ports = stack_ports(services)
    config = stack_config(root, ports, QUICK_PROPELLER)
    config.update(sections)
    with started_stack(root, E2E_DIR, config, ports, services) as running:
        running.version = f"egress-{uuid.uuid4().hex[:10]}"  # type: ignore[attr-defined]
        running.register(running.version, "flows", cwd=EGRESS_DIR)  # type: ignore[attr-defined]
        yield running


def smtp_emailer(smtp_port: int) -> dict[str, Any]:
    return {
        "emailServerConfig": {"serviceName": "smtp", "smtpServer": "127.0.0.1", "smtpPort": str(smtp_port)},
        "sender": "flyte@example.com",
        "subject": 'Execution "{{ workflow.name }}" has {{ phase }} in "{{ domain }}".',
        "body": "Execution {{ name }} of {{ launch_plan.name }} has {{ phase }} in {{ project }}.{{ error }}",
    }


def outbox_rows(stack: Any) -> int:
    with sqlite3.connect(stack.root / "data" / "admin.db") as db:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def wait_drained(stack: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while outbox_rows(stack):
        assert time.monotonic() < deadline, f"admin's outbox still holds {outbox_rows(stack)} rows"
        time.sleep(0.2)


def as_v1(event: dict[str, Any]) -> dict[str, Any]:
    """A v2 (enriched) CloudEvent with its raw event where v1 has it, so both are checked alike."""
    if event["type"] not in V2_TYPES:
        return event
    return {**event, "type": V2_TYPES[event["type"]], "data": {"event": event["data"]["rawEvent"]}}


def of_execution(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    def execution_name(event: dict[str, Any]) -> str:
        body = event["data"]["event"]
        if event["type"] == WORKFLOW_REQUEST:
            return str(body["executionId"]["name"])
        if event["type"] == NODE_REQUEST:
            return str(body["id"]["executionId"]["name"])
        return str(body["parentNodeExecutionId"]["executionId"]["name"])

    return [e for e in events if execution_name(as_v1(e)) == name]


def entity_of(event: dict[str, Any]) -> tuple[str, ...]:
    event = as_v1(event)
    body = event["data"]["event"]
    if event["type"] == WORKFLOW_REQUEST:
        return ("workflow",)
    if event["type"] == NODE_REQUEST:
        return ("node", body["id"]["nodeId"])
    return ("task", body["parentNodeExecutionId"]["nodeId"], str(body.get("retryAttempt", 0)))


def assert_every_event_in_order(stack: Any, name: str, events: list[dict[str, Any]]) -> dict[tuple[str, ...], Any]:
    """The CloudEvents of execution ``name``: each entity's in order, and every node and task execution admin
    recorded present, ending in the phase admin holds. Returns each entity's events (a repeat of an id counted once:
    delivery is at-least-once, and admin accepts a data plane's re-sent event again when it changes the phase back;
    JetStream drops such repeats by id, Kafka and Pub/Sub deliver them, identical, for consumers to drop)."""
    first: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["id"] in first:
            assert as_v1(event)["data"] == as_v1(first[event["id"]])["data"], event["id"]
        first.setdefault(event["id"], event)
    events = list(first.values())
    per_entity: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        per_entity[entity_of(event)].append(event)
    phases = {k: [as_v1(e)["data"]["event"]["phase"] for e in v] for k, v in per_entity.items()}
    for entity, entity_events in per_entity.items():
        times = [as_v1(e)["data"]["event"]["occurredAt"] for e in entity_events]
        assert times == sorted(times), (entity, phases[entity])
    assert phases[("workflow",)][-1] == "SUCCEEDED" and "RUNNING" in phases[("workflow",)]

    wid = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
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
    return per_entity


def assert_failure_emailed(stack: Any, registered: str, inbox: Any) -> None:
    """A failing run of the ``failing_notifies`` launch plan emails its FAILED recipient only, rendered."""
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
