"""Notifications with ``type: aws`` against moto (an AWS emulator in server mode on a local port: no AWS is reachable
from tests): admin publishes the rendered email to SNS, its processor reads it back from the SQS queue subscribed to
the topic and sends it with SES, as flyteadmin does (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2, literals_pb2
from google.protobuf import timestamp_pb2

from aloft_testing.s3 import ACCESS_KEY, SECRET_KEY, moto_s3_server

WF = core.WorkflowExecution
CLUSTER = "east"
REGION = "us-east-1"


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_s3_server() as endpoint:  # moto's server serves every AWS service, SNS, SQS and SES included
        for key, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            monkeypatch.setenv(key, value)
        yield endpoint


def aws_resources() -> tuple[str, str]:
    """A topic, a queue subscribed to it, a verified sender; returns (topic ARN, queue name)."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="flyte-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="flyte-notifications-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress="flyte@example.com")
    return topic, "flyte-notifications-queue"


def sent_emails() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)  # moto runs in this process (a thread)


def stamp(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=1_767_225_600 + seconds)


async def test_failed_execution_goes_through_sns_and_sqs_to_ses(
    start_configured_exec_server: Any, moto_endpoint: str
) -> None:
    topic, queue = aws_resources()
    sections = {
        "notifications": {
            "type": "aws",
            "aws": {"region": REGION},
            "publisher": {"topicName": topic},
            "processor": {"queueName": queue},
            "emailer": {
                "sender": "flyte@example.com",
                "subject": "{{ name }} {{ phase }}",
                "body": "{{ launch_plan.name }}:{{ error }}",
            },
            "outbox": {"pollInterval": "100ms", "retryDelay": "50ms", "maxRetryDelay": "200ms"},
        }
    }
    async with start_configured_exec_server(sections) as server:
        lp_id = await server.register_launch_plan()
        got = await server.admin.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id))
        spec = launch_plan_pb2.LaunchPlanSpec()
        spec.CopyFrom(got.spec)
        spec.entity_metadata.notifications.append(
            common_pb2.Notification(
                phases=[WF.FAILED], pager_duty=common_pb2.PagerDutyNotification(recipients_email=["pd@example.com"])
            )
        )
        notifying = identifier_pb2.Identifier()
        notifying.CopyFrom(lp_id)
        notifying.name = "paging"
        await server.admin.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=notifying, spec=spec))
        one = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
        created = await server.admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project="flytesnacks", domain="development", name="paged1",
                spec=execution_pb2.ExecutionSpec(launch_plan=notifying),
                inputs=literals_pb2.LiteralMap(literals={"a": one}),
            )
        )  # fmt: skip
        for phase, seconds in ((WF.RUNNING, 1), (WF.FAILED, 2)):
            request = admin_event_pb2.WorkflowExecutionEventRequest(request_id="r")
            request.event.execution_id.CopyFrom(created.id)
            request.event.phase = phase
            request.event.occurred_at.CopyFrom(stamp(seconds))
            request.event.producer_id = CLUSTER
            if phase == WF.FAILED:
                request.event.error.CopyFrom(core.ExecutionError(code="USER", message="out of memory"))
            await server.admin.CreateWorkflowEvent(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not sent_emails():
            assert loop.time() < deadline, "SES sent nothing"
            await asyncio.sleep(0.1)
        # Nothing is left in the queue: the processor deletes a message once its email is sent.
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        while sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"] != dict.fromkeys(names, "0"):  # type: ignore[arg-type]
            assert loop.time() < deadline, "the processed message stayed in the queue"
            await asyncio.sleep(0.1)
    [email] = sent_emails()
    assert email.source == "flyte@example.com"
    assert email.destinations["ToAddresses"] == ["pd@example.com"]
    assert email.subject == "paged1 failed"
    assert email.body == "paging: The execution failed with error: [out of memory]."
