"""Workflow notifications (Flyte's ``notifications``): when an execution reaches a phase a notification names, an
``admin.EmailMessage`` is rendered from the emailer's templates and sent. Slack and PagerDuty notifications are
emails to their integration addresses, as in Flyte.

Template variables are flyteadmin's (``{{ name }}`` or ``{{name}}``): project, domain, name, phase, error,
workflow.project/domain/name/version, launch_plan.project/domain/name/version. A notification's own ``template``
replaces the configured body.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Protocol

import httpx
from flyteidl.admin import common_pb2, execution_pb2, notification_pb2
from flyteidl.core import execution_pb2 as core
from google.protobuf.message import DecodeError

from aloft_admin.config import EmailServerConfig, NotificationsConfig, NotificationsEmailerConfig

log = logging.getLogger(__name__)

WF = core.WorkflowExecution
EXECUTION_ERROR = " The execution failed with error: [{}]."

Getter = Callable[[core.ExecutionError | None, int, execution_pb2.Execution], str]

TEMPLATE_VALUES: dict[str, Getter] = {
    "project": lambda _e, _p, ex: ex.id.project,
    "domain": lambda _e, _p, ex: ex.id.domain,
    "name": lambda _e, _p, ex: ex.id.name,
    "phase": lambda _e, phase, _ex: WF.Phase.Name(phase).lower(),  # type: ignore[arg-type]
    "error": lambda error, _p, _ex: EXECUTION_ERROR.format(error.message) if error is not None else "",
    "workflow.project": lambda _e, _p, ex: ex.closure.workflow_id.project,
    "workflow.domain": lambda _e, _p, ex: ex.closure.workflow_id.domain,
    "workflow.name": lambda _e, _p, ex: ex.closure.workflow_id.name,
    "workflow.version": lambda _e, _p, ex: ex.closure.workflow_id.version,
    "launch_plan.project": lambda _e, _p, ex: ex.spec.launch_plan.project,
    "launch_plan.domain": lambda _e, _p, ex: ex.spec.launch_plan.domain,
    "launch_plan.name": lambda _e, _p, ex: ex.spec.launch_plan.name,
    "launch_plan.version": lambda _e, _p, ex: ex.spec.launch_plan.version,
}


def substitute(template: str, error: core.ExecutionError | None, phase: int, execution: execution_pb2.Execution) -> str:
    for key, value_of in TEMPLATE_VALUES.items():
        value = value_of(error, phase, execution)
        template = template.replace(f"{{{{ {key} }}}}", value).replace(f"{{{{{key}}}}}", value)
    return template


def recipients_of(notification: common_pb2.Notification) -> list[str]:
    target = notification.WhichOneof("type")
    return list(getattr(notification, target).recipients_email) if target else []


def email_messages(
    config: NotificationsEmailerConfig,
    phase: int,
    error: core.ExecutionError | None,
    execution: execution_pb2.Execution,
) -> list[notification_pb2.EmailMessage]:
    """One rendered email per notification of the execution that names ``phase`` (Flyte's publishNotifications)."""
    messages = []
    for notification in execution.closure.notifications:
        if phase not in notification.phases:
            continue
        recipients = recipients_of(notification)
        if not recipients:
            continue
        body = notification.email.template if notification.HasField("email") and notification.email.template else ""
        messages.append(
            notification_pb2.EmailMessage(
                recipients_email=recipients,
                sender_email=config.sender,
                subject_line=substitute(config.subject, error, phase, execution),
                body=substitute(body or config.body, error, phase, execution),
            )
        )
    return messages


def execution_notifications(
    spec: execution_pb2.ExecutionSpec, launch_plan_notifications: list[common_pb2.Notification]
) -> list[common_pb2.Notification]:
    """Flyte's precedence: the request's own notifications, else none with ``disable_all``, else the launch
    plan's."""
    if spec.WhichOneof("notification_overrides") == "notifications" and spec.notifications.notifications:
        return list(spec.notifications.notifications)
    if spec.disable_all:
        return []
    return launch_plan_notifications


class Emailer(Protocol):
    async def send(self, email: notification_pb2.EmailMessage) -> None: ...


class LoggingEmailer:
    """No email service configured (Flyte's no-op emailer): the message is logged, nothing is sent."""

    async def send(self, email: notification_pb2.EmailMessage) -> None:
        log.info(
            "notification (no email service configured) to %s: %s", list(email.recipients_email), email.subject_line
        )


class SMTPEmailer:
    """Flyte's SMTP emailer: STARTTLS when the server offers it, AUTH (PLAIN/LOGIN) when it asks for it, an HTML
    body; the password comes from the environment variable ``smtpPasswordSecretName`` names."""

    def __init__(self, config: NotificationsEmailerConfig) -> None:
        self._config = config

    async def send(self, email: notification_pb2.EmailMessage) -> None:
        await asyncio.to_thread(self._send, email)

    def _send(self, email: notification_pb2.EmailMessage) -> None:
        server = self._config.emailServerConfig
        message = MimeMessage()
        message["From"] = self._config.sender
        message["To"] = ", ".join(email.recipients_email)
        message["Subject"] = email.subject_line
        message.set_content(email.body, subtype="html")
        with smtplib.SMTP(server.smtpServer, int(server.smtpPort or 25), timeout=30) as client:
            client.ehlo("localhost")
            if client.has_extn("starttls"):
                context = ssl.create_default_context()
                if server.smtpSkipTLSVerify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                client.starttls(context=context)
                client.ehlo("localhost")
            if client.has_extn("auth") and server.smtpUsername:
                password = os.environ.get(server.smtpPasswordSecretName, "") if server.smtpPasswordSecretName else ""
                client.login(server.smtpUsername, password)
            client.send_message(message, from_addr=email.sender_email, to_addrs=list(email.recipients_email))


class SendGridError(RuntimeError):
    pass


def sendgrid_api_key(server: EmailServerConfig) -> str:
    """Flyte's getAPIKey: the environment variable ``apiKeyEnvVar`` names, else the file ``apiKeyFilePath``."""
    if server.apiKeyEnvVar:
        key = os.environ.get(server.apiKeyEnvVar, "")
    elif server.apiKeyFilePath:
        try:
            key = Path(server.apiKeyFilePath).read_text().strip()
        except OSError as exc:
            raise SendGridError(f"notifications: cannot read the SendGrid API key file: {exc}") from exc
    else:
        raise SendGridError("notifications: sendgrid needs emailServerConfig.apiKeyEnvVar or apiKeyFilePath")
    if not key:
        raise SendGridError("notifications: the SendGrid API key is empty")
    return key


def sendgrid_mail(email: notification_pb2.EmailMessage) -> dict[str, object]:
    """Flyte's getSendgridEmail as SendGrid's v3 mail/send body: one personalization with every recipient and the
    subject, an HTML body. SendGrid takes the sender from the API key's account; ``from`` is a formality."""
    return {
        "personalizations": [
            {"to": [{"email": address} for address in email.recipients_email], "subject": email.subject_line}
        ],
        "from": {"name": "Flyte Notifications", "email": email.sender_email},
        "content": [{"type": "text/html", "value": email.body}],
    }


class SendGridEmailer:
    """Flyte's SendGrid emailer over SendGrid's v3 HTTP API (POST /v3/mail/send, bearer API key). Anything but a 2xx
    raises, so the outbox retries the send (Flyte's client returns HTTP errors as responses and drops the mail)."""

    def __init__(self, config: NotificationsEmailerConfig) -> None:
        server = config.emailServerConfig
        self._url = server.sendgridEndpoint.rstrip("/") + "/v3/mail/send"
        self._headers = {"Authorization": f"Bearer {sendgrid_api_key(server)}"}

    async def send(self, email: notification_pb2.EmailMessage) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(self._url, json=sendgrid_mail(email), headers=self._headers)
        if not response.is_success:
            raise SendGridError(f"SendGrid answered {response.status_code}: {response.text[:500]}")


def build_emailer(config: NotificationsConfig) -> Emailer:
    service = config.emailer.emailServerConfig.serviceName
    if service == "smtp":
        return SMTPEmailer(config.emailer)
    if service == "sendgrid":
        return SendGridEmailer(config.emailer)
    return LoggingEmailer()


class SESEmailer:
    """Flyte's AWS emailer: SES SendEmail with an HTML body, from ``emailer.sender``."""

    def __init__(self, config: NotificationsConfig) -> None:
        import boto3

        self._sender = config.emailer.sender
        self._ses = boto3.client("ses", region_name=config.aws_region() or None)

    async def send(self, email: notification_pb2.EmailMessage) -> None:
        await asyncio.to_thread(
            self._ses.send_email,
            Source=self._sender,
            Destination={"ToAddresses": list(email.recipients_email)},
            Message={
                "Subject": {"Data": email.subject_line},
                "Body": {"Html": {"Data": email.body}},
            },
        )


def build_notifications_emailer(config: NotificationsConfig) -> Emailer:
    """Flyte's GetEmailer: ``emailServerConfig.serviceName`` first, else SES for type aws, else log only."""
    if config.emailer.emailServerConfig.serviceName:
        return build_emailer(config)
    if config.type == "aws":
        return SESEmailer(config)
    return LoggingEmailer()


class SnsPublisher:
    """Flyte's AWS notifications publisher: the EmailMessage, base64-encoded, published to the SNS topic."""

    def __init__(self, config: NotificationsConfig) -> None:
        import boto3

        self._topic = config.publisher.topicName
        self._sns = boto3.client("sns", region_name=config.aws_region() or None)

    async def send(self, email: notification_pb2.EmailMessage) -> None:
        message = base64.b64encode(email.SerializeToString()).decode()
        await asyncio.to_thread(self._sns.publish, TopicArn=self._topic, Message=message)


async def keep_processing(process_once: Callable[[], Awaitable[int]], where: str, retry_seconds: float) -> None:
    """A notifications processor's loop: batch after batch; the queue may be unreachable for a while, so a failure
    is logged and retried after ``retry_seconds`` (at least one)."""
    while True:
        try:
            await process_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notifications: reading %s failed", where)
            await asyncio.sleep(max(retry_seconds, 1))


class SqsProcessor:
    """Flyte's AWS notifications processor: reads the SQS queue subscribed to the topic (SNS's JSON envelope, the
    base64 EmailMessage in ``Message``) and sends each email. A message is deleted once sent, or when it can never be
    decoded; a failed send leaves it in the queue, so SQS delivers it again after its visibility timeout."""

    def __init__(self, config: NotificationsConfig, emailer: Emailer, wait_seconds: int = 5) -> None:
        import boto3

        self._config = config
        self._emailer = emailer
        self._wait = wait_seconds
        self._sqs = boto3.client("sqs", region_name=config.aws_region() or None)
        self._queue_url = ""

    async def run(self) -> None:
        where = f"SQS queue {self._config.processor.queueName}"
        await keep_processing(self.process_once, where, self._config.reconnectDelaySeconds)

    async def process_once(self) -> int:
        """Receive one batch and handle it; returns how many emails were sent."""
        if not self._queue_url:
            lookup = {"QueueName": self._config.processor.queueName}
            if self._config.processor.accountId:
                lookup["QueueOwnerAWSAccountId"] = self._config.processor.accountId
            self._queue_url = (await asyncio.to_thread(self._sqs.get_queue_url, **lookup))["QueueUrl"]
        received = await asyncio.to_thread(
            self._sqs.receive_message, QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self._wait
        )
        sent = 0
        for message in received.get("Messages", []):
            email = _email_of(message["Body"])
            if email is not None:
                try:
                    await self._emailer.send(email)
                except Exception as exc:  # noqa: BLE001 - left in the queue: delivered again, so retried
                    log.warning("notifications: sending to %s failed: %s", list(email.recipients_email), exc)
                    continue
                sent += 1
            await asyncio.to_thread(
                self._sqs.delete_message, QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return sent


def _email_of(body: str) -> notification_pb2.EmailMessage | None:
    try:
        envelope = json.loads(body)
        return notification_pb2.EmailMessage.FromString(base64.b64decode(envelope["Message"]))
    except (ValueError, KeyError, TypeError, DecodeError) as exc:
        log.error("notifications: dropping an undecodable queue message: %s", exc)
        return None
