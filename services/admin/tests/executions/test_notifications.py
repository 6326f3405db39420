"""Notification emails over a real SMTP server (aiosmtpd, in-process) from executions created and failed over real
gRPC (SQLite and PostgreSQL): rendered templates, precedence of the execution's own notifications over the launch
plan's, and a send that fails while the mail server is down is retried without holding up the event; SendGrid; and
``type: gcp``, through a real Pub/Sub (Google's emulator) topic and subscription."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
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
from prometheus_client import REGISTRY

from aloft_testing.brokers import ThrowawayPubSub
from aloft_testing.http_double import Reply, Request, serve_http
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


class SendGridDouble:
    """A double of SendGrid's v3 mail/send endpoint (no SendGrid account here), checking a request the way the API
    documents it: POST /v3/mail/send, ``Authorization: Bearer <key>`` (401 otherwise), a JSON body with
    personalizations[].to[].email, from.email, a subject and content[] {type, value} (400 with SendGrid's
    ``{"errors": [...]}`` otherwise); 202 and an empty body when accepted. ``fail_next`` answers 500s first."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.accepted: list[dict[str, Any]] = []
        self.fail_next = 0
        self.url = ""  # where it is served

    def respond(self, request: Request) -> Reply:
        if request.method != "POST":
            return Reply(405)
        status, errors = self.check(request.path, request.headers, request.body)
        payload = json.dumps({"errors": [{"message": m, "field": None, "help": None} for m in errors]})
        return Reply(status, payload.encode() if errors else b"", {"Content-Type": "application/json"})

    def check(self, path: str, headers: Any, raw: bytes) -> tuple[int, list[str]]:
        if path != "/v3/mail/send":
            return 404, [f"no route {path}"]
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, ["The provided authorization grant is invalid, expired, or revoked"]
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            return 400, ["Content-Type must be application/json"]
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, ["Bad Request"]
        problems = []
        personalizations = body.get("personalizations") or []
        if not personalizations or not all(
            p.get("to") and all(t.get("email") for t in p["to"]) for p in personalizations
        ):
            problems.append("The personalizations field is required and must have at least one to email.")
        if not (body.get("from") or {}).get("email"):
            problems.append("The from object must be provided for every email send.")
        if not body.get("subject") and not all(p.get("subject") for p in personalizations):
            problems.append("The subject is required.")
        if not body.get("content") or not all(c.get("type") and c.get("value") for c in body["content"]):
            problems.append("Each content object must have a type and a value.")
        if problems:
            return 400, problems
        if self.fail_next:
            self.fail_next -= 1
            return 500, ["Internal Server Error"]
        self.accepted.append(body)
        return 202, []


@pytest.fixture
def sendgrid() -> Iterator[SendGridDouble]:
    double = SendGridDouble("SG.test-key")
    with serve_http(double.respond) as http:
        double.url = http.url
        yield double


def emailer_metric(name: str) -> float:
    return REGISTRY.get_sample_value(f"flyte:admin:emailer:{name}") or 0.0


def sendgrid_config(sendgrid: SendGridDouble, key_file: Any) -> dict[str, Any]:
    config = notifications_config(1)
    config["notifications"]["emailer"]["emailServerConfig"] = {
        "serviceName": "sendgrid", "apiKeyFilePath": str(key_file), "sendgridEndpoint": sendgrid.url,
    }  # fmt: skip
    return config


async def test_sendgrid_emails_a_failed_execution_with_the_key_from_a_file(
    start_configured_exec_server: Any, sendgrid: SendGridDouble, tmp_path: Any
) -> None:
    key_file = tmp_path / "sendgrid-key"
    key_file.write_text("SG.test-key\n")  # as a mounted Secret: the trailing newline is trimmed
    sendgrid.fail_next = 1  # the first send gets a 500: retried from the outbox
    before = {name: emailer_metric(name) for name in ("send_total", "send_success_total", "send_error_total")}
    async with start_configured_exec_server(sendgrid_config(sendgrid, key_file)) as server:
        email = common_pb2.EmailNotification(recipients_email=["a@example.com", "b@example.com"])
        lp_id = await launch_plan_with_notifications(server, [notification([WF.FAILED], email=email)])
        wid = await create(server, lp_id, "sg1", None)
        await server.admin.CreateWorkflowEvent(running_event(wid))
        await server.admin.CreateWorkflowEvent(failed_event(wid, "boom"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while emailer_metric("send_success_total") == before["send_success_total"]:  # counted once SendGrid answered
            assert loop.time() < deadline, "SendGrid accepted no mail"
            await asyncio.sleep(0.05)
    assert sendgrid.fail_next == 0
    after = {name: emailer_metric(name) - count for name, count in before.items()}
    assert after == {"send_total": 2, "send_success_total": 1, "send_error_total": 1}
    assert sendgrid.accepted == [
        {
            "personalizations": [
                {
                    "to": [{"email": "a@example.com"}, {"email": "b@example.com"}],
                    "subject": 'Execution "wf" has failed in "development".',
                }
            ],
            "from": {"name": "Flyte Notifications", "email": "flyte@example.com"},
            "content": [
                {
                    "type": "text/html",
                    "value": "flytesnacks/development/sg1 of notifying (version v1). "
                    "The execution failed with error: [boom].",
                }
            ],
        }
    ]


async def test_sendgrid_rejections_raise_with_sendgrids_error(sendgrid: SendGridDouble, tmp_path: Any) -> None:
    from flyteidl.admin import notification_pb2

    from aloft_admin.config import NotificationsConfig
    from aloft_admin.integrations.notifications import SendGridError, build_emailer

    def emailer(key: str) -> Any:
        (tmp_path / "key").write_text(key)
        config = sendgrid_config(sendgrid, tmp_path / "key")["notifications"]
        return build_emailer(NotificationsConfig.model_validate(config))

    message = notification_pb2.EmailMessage(
        recipients_email=["a@x.com"], sender_email="f@x.com", subject_line="s", body="b"
    )
    with pytest.raises(SendGridError, match=r"401.*authorization grant is invalid"):
        await emailer("SG.wrong").send(message)
    with pytest.raises(SendGridError, match=r"400.*at least one to email"):
        await emailer("SG.test-key").send(notification_pb2.EmailMessage(sender_email="f@x.com", body="b"))
    with pytest.raises(SendGridError, match="API key is empty"):
        emailer("\n")
    assert sendgrid.accepted == []


# --- notifications.type gcp: through GCP Pub/Sub (Google's Pub/Sub emulator, aloft_testing.brokers) ---------------


@pytest.fixture
def pubsub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThrowawayPubSub]:
    server = ThrowawayPubSub()
    server.start()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", server.host)
    try:
        yield server
    finally:
        server.stop()


def gcp_topic_and_subscription(project: str) -> None:
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=publisher.topic_path(project, "flyte-notifications"))
    subscriber.create_subscription(
        name=subscriber.subscription_path(project, "flyte-notifications-sub"), topic=topic.name
    )


async def test_a_failure_notification_arrives_through_pubsub(
    start_configured_exec_server: Any, smtp_port: int, pubsub: ThrowawayPubSub
) -> None:
    await asyncio.to_thread(gcp_topic_and_subscription, "aloft-test")
    config = notifications_config(smtp_port)
    config["notifications"].update(
        {
            "type": "gcp",
            "gcp": {"projectId": "aloft-test"},
            "publisher": {"topicName": "flyte-notifications"},
            "processor": {"queueName": "flyte-notifications-sub"},
        }
    )
    controller, inbox = start_smtp(smtp_port)
    try:
        async with start_configured_exec_server(config) as server:
            email = common_pb2.EmailNotification(recipients_email=["oncall@example.com"])
            lp_id = await launch_plan_with_notifications(server, [notification([WF.FAILED], email=email)])
            wid = await create(server, lp_id, "gcpfail1", None)
            await server.admin.CreateWorkflowEvent(running_event(wid))
            await server.admin.CreateWorkflowEvent(failed_event(wid, "boom over pubsub"))
            await wait_for(inbox, 1)
            await asyncio.sleep(0.3)  # nothing else is on its way
            async with server.deps.repos.transaction() as tx:  # the outbox handed it to Pub/Sub and let go
                assert not await tx.outbox.has_rows("notifications")
    finally:
        controller.stop()
    [(recipients, mail)] = inbox.messages
    assert recipients == ["oncall@example.com"]
    assert mail["Subject"] == 'Execution "wf" has failed in "development".'
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "flytesnacks/development/gcpfail1" in body and "boom over pubsub" in body


async def test_pubsub_processor_redelivers_a_failed_send(pubsub: ThrowawayPubSub) -> None:
    from flyteidl.admin import notification_pb2

    from aloft_admin.config import NotificationsConfig
    from aloft_admin.integrations.gcp_pubsub import PubSubNotificationPublisher, PubSubProcessor

    await asyncio.to_thread(gcp_topic_and_subscription, "aloft-test2")
    config = NotificationsConfig.model_validate(
        {
            "type": "gcp",
            "gcp": {"projectId": "aloft-test2"},
            "publisher": {"topicName": "flyte-notifications"},
            "processor": {"queueName": "flyte-notifications-sub"},
        }
    )

    class FlakyEmailer:
        def __init__(self) -> None:
            self.attempts: list[str] = []

        async def send(self, email: notification_pb2.EmailMessage) -> None:
            self.attempts.append(email.subject_line)
            if len(self.attempts) == 1:
                raise ConnectionError("mail server down")

    emailer = FlakyEmailer()
    await PubSubNotificationPublisher(config).send(
        notification_pb2.EmailMessage(recipients_email=["a@x.com"], subject_line="s1", body="b")
    )
    processor = PubSubProcessor(config, emailer, wait_seconds=2)
    sent = 0
    for _ in range(20):
        sent += await processor.process_once()
        if sent:
            break
    processor.close()
    assert sent == 1 and emailer.attempts == ["s1", "s1"]  # nacked after the failure, delivered again
