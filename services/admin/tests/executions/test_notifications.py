"""Notification emails over a real SMTP server (aiosmtpd, in-process) from executions created and failed over real
gRPC (SQLite and PostgreSQL): rendered templates, precedence of the execution's own notifications over the launch
plan's, and a send that fails while the mail server is down is retried without holding up the event."""

from __future__ import annotations

import asyncio
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2, literals_pb2
from google.protobuf import timestamp_pb2

from aloft_testing.servers import free_port

WF = core.WorkflowExecution
CLUSTER = "east"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


def start_smtp(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


def notifications_config(port: int) -> dict[str, Any]:
    return {
        "notifications": {
            "type": "sandbox",
            "emailer": {
                "emailServerConfig": {"serviceName": "smtp", "smtpServer": "127.0.0.1", "smtpPort": str(port)},
                "sender": "flyte@example.com",
                "subject": 'Execution "{{ workflow.name }}" has {{ phase }} in "{{domain}}".',
                "body": "{{ project }}/{{ domain }}/{{ name }} of {{ launch_plan.name }} "
                "(version {{ launch_plan.version }}).{{ error }}",
            },
            "outbox": {"pollInterval": "100ms", "retryDelay": "50ms", "maxRetryDelay": "200ms"},
        }
    }


def failed_event(wid: Any, message: str) -> admin_event_pb2.WorkflowExecutionEventRequest:
    event = admin_event_pb2.WorkflowExecutionEventRequest(request_id="r")
    event.event.execution_id.CopyFrom(wid)
    event.event.phase = WF.FAILED
    event.event.occurred_at.CopyFrom(timestamp_pb2.Timestamp(seconds=1_767_225_610))
    event.event.producer_id = CLUSTER
    event.event.error.CopyFrom(core.ExecutionError(code="USER:ValueError", message=message))
    return event


def running_event(wid: Any) -> admin_event_pb2.WorkflowExecutionEventRequest:
    event = admin_event_pb2.WorkflowExecutionEventRequest(request_id="r")
    event.event.execution_id.CopyFrom(wid)
    event.event.phase = WF.RUNNING
    event.event.occurred_at.CopyFrom(timestamp_pb2.Timestamp(seconds=1_767_225_601))
    event.event.producer_id = CLUSTER
    return event


def notification(phases: list[int], **target: Any) -> common_pb2.Notification:
    return common_pb2.Notification(phases=phases, **target)  # type: ignore[arg-type]


async def create(
    server: Any, lp_id: Any, name: str, spec_notifications: list[Any] | None, disable_all: bool = False
) -> Any:
    spec = execution_pb2.ExecutionSpec(launch_plan=lp_id)
    if spec_notifications is not None:
        spec.notifications.notifications.extend(spec_notifications)
    if disable_all:
        spec.disable_all = True
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    request = execution_pb2.ExecutionCreateRequest(
        project="flytesnacks", domain="development", name=name, spec=spec,
        inputs=literals_pb2.LiteralMap(literals={"a": literal}),
    )  # fmt: skip
    created = await server.admin.CreateExecution(request)
    return created.id


async def launch_plan_with_notifications(server: Any, notifications: list[Any]) -> Any:
    lp_id = await server.register_launch_plan()
    got = await server.admin.GetLaunchPlan(admin_object_get(lp_id))
    spec = launch_plan_pb2.LaunchPlanSpec()
    spec.CopyFrom(got.spec)
    spec.entity_metadata.notifications.extend(notifications)
    notifying = identifier_pb2.Identifier()
    notifying.CopyFrom(lp_id)
    notifying.name = "notifying"
    await server.admin.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=notifying, spec=spec))
    return notifying


def admin_object_get(lp_id: Any) -> Any:
    return common_pb2.ObjectGetRequest(id=lp_id)


async def wait_for(inbox: Inbox, count: int, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(inbox.messages) < count:
        assert loop.time() < deadline, f"{len(inbox.messages)} of {count} emails arrived"
        await asyncio.sleep(0.05)


async def test_failed_execution_emails_the_rendered_template(start_configured_exec_server: Any, smtp_port: int) -> None:
    controller, inbox = start_smtp(smtp_port)
    try:
        async with start_configured_exec_server(notifications_config(smtp_port)) as server:
            email = common_pb2.EmailNotification(recipients_email=["a@example.com"])
            slack = common_pb2.SlackNotification(recipients_email=["s@x.slack.com"])
            pager = common_pb2.PagerDutyNotification(recipients_email=["p@pd.com"])
            lp_id = await launch_plan_with_notifications(
                server,
                [
                    notification([WF.FAILED], email=email),
                    notification([WF.FAILED, WF.TIMED_OUT], slack=slack),
                    notification([WF.SUCCEEDED], pager_duty=pager),
                ],
            )
            wid = await create(server, lp_id, "fails1", None)
            await server.admin.CreateWorkflowEvent(running_event(wid))
            await server.admin.CreateWorkflowEvent(failed_event(wid, "boom: x was 3"))
            await wait_for(inbox, 2)
            await asyncio.sleep(0.3)  # nothing else is on its way
    finally:
        controller.stop()
    assert sorted(rcpt for rcpt, _ in inbox.messages) == [["a@example.com"], ["s@x.slack.com"]]
    _, mail = inbox.messages[0]
    assert mail["Subject"] == 'Execution "wf" has failed in "development".'
    assert mail["From"] == "flyte@example.com"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert body.strip() == (
        "flytesnacks/development/fails1 of notifying (version v1). The execution failed with error: [boom: x was 3]."
    )


async def test_execution_notifications_override_the_launch_plan(
    start_configured_exec_server: Any, smtp_port: int
) -> None:
    controller, inbox = start_smtp(smtp_port)
    try:
        async with start_configured_exec_server(notifications_config(smtp_port)) as server:
            lp_id = await launch_plan_with_notifications(
                server, [notification([WF.FAILED], email=common_pb2.EmailNotification(recipients_email=["lp@x.com"]))]
            )
            own = [notification([WF.FAILED], email=common_pb2.EmailNotification(recipients_email=["own@x.com"]))]
            overridden = await create(server, lp_id, "own1", own)
            silenced = await create(server, lp_id, "quiet1", None, disable_all=True)
            got = await server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=overridden))
            assert [list(n.email.recipients_email) for n in got.closure.notifications] == [["own@x.com"]]
            for wid in (overridden, silenced):
                await server.admin.CreateWorkflowEvent(running_event(wid))
                await server.admin.CreateWorkflowEvent(failed_event(wid, "no"))
            await wait_for(inbox, 1)
            await asyncio.sleep(0.3)
    finally:
        controller.stop()
    assert [rcpt for rcpt, _ in inbox.messages] == [["own@x.com"]]


async def test_send_failing_while_the_mail_server_is_down_is_retried(
    start_configured_exec_server: Any, smtp_port: int
) -> None:
    async with start_configured_exec_server(notifications_config(smtp_port)) as server:
        lp_id = await launch_plan_with_notifications(
            server, [notification([WF.FAILED], email=common_pb2.EmailNotification(recipients_email=["a@x.com"]))]
        )
        wid = await create(server, lp_id, "retry1", None)
        await server.admin.CreateWorkflowEvent(running_event(wid))
        await server.admin.CreateWorkflowEvent(failed_event(wid, "down"))  # answered although no server listens
        got = await server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
        assert got.closure.phase == WF.FAILED
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:  # a send was attempted and failed: the row waits for its retry
            async with server.deps.repos.transaction() as tx:
                rows = await tx.outbox.due("notifications", server.deps.clock() + _hour(), 10)
            if rows and rows[0].attempts >= 1:
                break
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        assert "Connection refused" in rows[0].last_error or "ConnectionRefused" in rows[0].last_error
        controller, inbox = start_smtp(smtp_port)
        try:
            await wait_for(inbox, 1)
        finally:
            controller.stop()
        while True:  # delivered rows are deleted after the send
            async with server.deps.repos.transaction() as tx:
                if not await tx.outbox.has_rows("notifications"):
                    break
            assert loop.time() < deadline + 20
            await asyncio.sleep(0.05)
    assert [rcpt for rcpt, _ in inbox.messages] == [["a@x.com"]]


def _hour() -> Any:
    from datetime import timedelta

    return timedelta(hours=1)
