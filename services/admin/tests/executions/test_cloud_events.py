"""Cloud events over a real nats-server with JetStream (a throwaway server this module starts and restarts), from
events sent over real gRPC (SQLite and PostgreSQL): flyteadmin's CloudEvent form, order, event-type filters, a
broker outage that neither blocks nor fails ingestion and loses nothing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import grpc
import nats
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from google.protobuf import json_format
from prometheus_client import REGISTRY

from aloft_testing.s3 import ACCESS_KEY, SECRET_KEY, moto_s3_server
from aloft_testing.servers import ThrowawayNats

WF, NODE, TASK = core.WorkflowExecution, core.NodeExecution, core.TaskExecution
CLUSTER = "east"
SUBJECT = "flyte.events"
STREAM = "flyte-events-test"
TASK_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name="t1", version="v1"
)


@pytest.fixture
def broker() -> Iterator[ThrowawayNats]:
    with ThrowawayNats() as server:
        yield server


def cloud_events_config(broker: ThrowawayNats, event_types: list[str] | None = None) -> dict[str, Any]:
    return {
        "cloudEvents": {
            "enable": True,
            "type": "nats",
            "nats": {"servers": [f"127.0.0.1:{broker.port}"], "jetStream": {"enabled": True, "stream": STREAM}},
            "eventsPublisher": {"topicName": SUBJECT, "eventTypes": event_types or ["all"]},
            "outbox": {"pollInterval": "100ms", "retryDelay": "50ms", "maxRetryDelay": "200ms"},
        }
    }


def _stamp(seconds: int) -> Any:
    from google.protobuf import timestamp_pb2

    return timestamp_pb2.Timestamp(seconds=1_767_225_600 + seconds)


def lifecycle(wid: identifier_pb2.WorkflowExecutionIdentifier) -> list[Any]:
    """The events of a one-task execution, in the order a data plane sends them."""
    node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=wid)

    def wf(phase: int, t: int) -> Any:
        return admin_event_pb2.WorkflowExecutionEventRequest(
            request_id="r",
            event={"execution_id": wid, "phase": phase, "occurred_at": _stamp(t), "producer_id": CLUSTER},
        )

    def nd(phase: int, t: int) -> Any:
        return admin_event_pb2.NodeExecutionEventRequest(
            request_id="r", event={"id": node, "phase": phase, "occurred_at": _stamp(t), "producer_id": CLUSTER}
        )

    def tk(phase: int, t: int, version: int = 0) -> Any:
        event = {
            "task_id": TASK_ID,
            "parent_node_execution_id": node,
            "retry_attempt": 0,
            "phase": phase,
            "phase_version": version,
            "occurred_at": _stamp(t),
            "producer_id": CLUSTER,
        }
        return admin_event_pb2.TaskExecutionEventRequest(request_id="r", event=event)

    return [
        wf(WF.RUNNING, 1),
        nd(NODE.QUEUED, 2),
        nd(NODE.RUNNING, 3),
        tk(TASK.QUEUED, 4),
        tk(TASK.RUNNING, 5),
        tk(TASK.RUNNING, 6, version=1),
        tk(TASK.SUCCEEDED, 7),
        nd(NODE.SUCCEEDED, 8),
        wf(WF.SUCCEEDED, 9),
    ]


async def send(admin: Any, request: Any) -> None:
    if isinstance(request, admin_event_pb2.WorkflowExecutionEventRequest):
        await admin.CreateWorkflowEvent(request)
    elif isinstance(request, admin_event_pb2.NodeExecutionEventRequest):
        await admin.CreateNodeEvent(request)
    else:
        await admin.CreateTaskEvent(request)


async def drained(server: Any, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with server.deps.repos.transaction() as tx:
            if not await tx.outbox.has_rows("cloudevents"):
                return
        assert loop.time() < deadline, "the outbox was not drained"
        await asyncio.sleep(0.05)


async def stream_events(broker: ThrowawayNats) -> list[dict[str, Any]]:
    """Every message stored in the stream, in stream order, decoded as structured CloudEvents."""
    nc = await nats.connect(broker.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        messages = [await js.get_msg(STREAM, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        assert all(m.subject == SUBJECT for m in messages)
        return [json.loads(m.data or b"") for m in messages]
    finally:
        await nc.close()


def request_of(cloud_event: dict[str, Any]) -> Any:
    kind = cloud_event["type"].removeprefix("com.flyte.resource.")
    message_type = {
        "flyteidl.admin.WorkflowExecutionEventRequest": admin_event_pb2.WorkflowExecutionEventRequest,
        "flyteidl.admin.NodeExecutionEventRequest": admin_event_pb2.NodeExecutionEventRequest,
        "flyteidl.admin.TaskExecutionEventRequest": admin_event_pb2.TaskExecutionEventRequest,
    }[kind]
    return json_format.ParseDict(cloud_event["data"], message_type())


def without_request_id(request: Any) -> Any:
    copy = type(request)()
    copy.CopyFrom(request)
    copy.request_id = ""
    return copy


async def test_every_event_is_published_as_a_flyte_cloud_event_in_order(
    start_configured_exec_server: Any, broker: ThrowawayNats
) -> None:
    async with start_configured_exec_server(cloud_events_config(broker)) as server:
        wid = server.wid("ce1")
        await server.seed_execution("ce1")
        sent = lifecycle(wid)
        for request in sent:
            await send(server.admin, request)
        await drained(server)
        received = await stream_events(broker)

    assert [request_of(e) for e in received] == [without_request_id(r) for r in sent]
    first = received[0]
    assert first["specversion"] == "1.0"
    assert first["type"] == "com.flyte.resource.flyteidl.admin.WorkflowExecutionEventRequest"
    assert first["source"] == "https://github.com/flyteorg/flyte/flyteadmin"
    assert first["jsonschemaurl"].endswith("/jsonschema/workflow_execution.json")
    assert first["datacontenttype"] == "application/json"
    assert first["id"] == 'project:"flytesnacks" domain:"development" name:"ce1".RUNNING'
    assert first["time"] == "2026-01-01T00:00:01Z"
    assert first["data"]["event"]["phase"] == "RUNNING"  # protobuf JSON, as flyteadmin's jsonpb
    assert len({e["id"] for e in received}) == len(received)  # a task phase version is its own event


async def test_event_type_filter_publishes_only_the_named_kinds(
    start_configured_exec_server: Any, broker: ThrowawayNats
) -> None:
    async with start_configured_exec_server(cloud_events_config(broker, ["workflow", "task"])) as server:
        await server.seed_execution("ce2")
        for request in lifecycle(server.wid("ce2")):
            await send(server.admin, request)
        await drained(server)
        received = await stream_events(broker)
    kinds = [e["type"].rsplit(".", 1)[1] for e in received]
    assert kinds == ["WorkflowExecutionEventRequest"] + ["TaskExecutionEventRequest"] * 4 + [
        "WorkflowExecutionEventRequest"
    ]


async def test_refused_events_publish_nothing(start_configured_exec_server: Any, broker: ThrowawayNats) -> None:
    async with start_configured_exec_server(cloud_events_config(broker, ["workflow"])) as server:
        await server.seed_execution("ce3")
        events = lifecycle(server.wid("ce3"))
        await send(server.admin, events[0])
        with pytest.raises(grpc.aio.AioRpcError) as duplicate:
            await send(server.admin, events[0])
        assert duplicate.value.code() == grpc.StatusCode.ALREADY_EXISTS
        await drained(server)
        received = await stream_events(broker)
    assert len(received) == 1


async def test_broker_outage_neither_blocks_ingestion_nor_loses_events(
    start_configured_exec_server: Any, broker: ThrowawayNats
) -> None:
    published, errors = metric("publish_total"), metric("publish_errors_total")
    async with start_configured_exec_server(cloud_events_config(broker)) as server:
        await server.seed_execution("ce4")
        sent = lifecycle(server.wid("ce4"))
        for request in sent[:3]:
            await send(server.admin, request)
        await drained(server)
        broker.stop()
        for request in sent[3:]:  # accepted at once while the broker is down
            await send(server.admin, request)
        async with server.deps.repos.transaction() as tx:
            assert await tx.outbox.has_rows("cloudevents")
        await wait_until(lambda: metric("publish_errors_total") > errors)  # a publish failed while it was down
        await wait_until(lambda: depth() == len(sent) - 3)
        broker.start()  # same port, same JetStream store
        await drained(server)
        received = await stream_events(broker)
    assert [request_of(e) for e in received] == [without_request_id(r) for r in sent]
    # Every event published once, plus one attempt per failure (the head is retried; nothing behind it is tried).
    failures = metric("publish_errors_total") - errors
    assert metric("publish_total") - published == len(sent) + failures
    assert depth() == 0


def depth() -> float | None:
    return REGISTRY.get_sample_value("flyte:admin:outbox:depth", {"stream": "cloudevents"})


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(f"flyte:admin:cloudevents_publisher:{name}") or 0.0


async def wait_until(condition: Any, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met"
        await asyncio.sleep(0.05)


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server mode on a local port (an AWS emulator: no AWS is reachable from tests), SNS and SQS included."""
    with moto_s3_server() as endpoint:
        for key, value in {
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():  # fmt: skip
            monkeypatch.setenv(key, value)
        yield endpoint


async def test_cloud_events_to_sns_in_flytes_protobuf_format(
    start_configured_exec_server: Any, moto_endpoint: str
) -> None:
    from aloft_admin.integrations.cloudevents_aws import CloudEvent

    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="flyte-events")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="flyte-events-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    config = {
        "cloudEvents": {
            "enable": True,
            "type": "aws",
            "aws": {"region": "us-east-1"},
            "eventsPublisher": {"topicName": topic, "eventTypes": ["all"]},
            "outbox": {"pollInterval": "100ms", "retryDelay": "50ms", "maxRetryDelay": "200ms"},
        }
    }
    async with start_configured_exec_server(config) as server:
        await server.seed_execution("ce5")
        sent = lifecycle(server.wid("ce5"))
        for request in sent:
            await send(server.admin, request)
        await drained(server)
    received: list[Any] = []
    while len(received) < len(sent):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages")
        assert messages, f"{len(received)} of {len(sent)} events reached the queue"
        for message in messages:  # the SNS envelope's Message: the CloudEvent protobuf, base64 (gizmo's PublishRaw)
            event: Any = CloudEvent.FromString(base64.b64decode(json.loads(message["Body"])["Message"]))
            received.append(event)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    first = received[0]
    assert (first.spec_version, first.source) == ("1.0", "https://github.com/flyteorg/flyte/flyteadmin")
    assert first.type == "com.flyte.resource.flyteidl.admin.WorkflowExecutionEventRequest"
    assert first.id == 'project:"flytesnacks" domain:"development" name:"ce5".RUNNING'
    assert first.attributes["datacontenttype"].ce_string == "application/json"
    assert first.attributes["jsonschemaurl"].ce_string.endswith("/jsonschema/workflow_execution.json")
    assert first.attributes["time"].ce_timestamp.ToJsonString() == "2026-01-01T00:00:01Z"
    # Published in commit order (moto's standard queue keeps it; SNS itself promises no order).
    as_dicts = [{"type": e.type, "data": json.loads(e.text_data)} for e in received]
    assert [request_of(e) for e in as_dicts] == [without_request_id(r) for r in sent]
