"""Cloud events over a real nats-server with JetStream (a throwaway server this module starts and restarts), from
events sent over real gRPC (SQLite and PostgreSQL): flyteadmin's CloudEvent form, order, event-type filters, a
broker outage that neither blocks nor fails ingestion and loses nothing. Then the same events to AWS SNS (moto),
to Kafka (Tansu, a real Kafka-protocol broker) and to GCP Pub/Sub (Google's emulator); v2 (enriched) events."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import grpc
import nats
import pytest
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import cloudevents_pb2
from google.protobuf import json_format
from prometheus_client import REGISTRY

from aloft_testing.brokers import ThrowawayKafka, ThrowawayPubSub
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


def publisher_config(
    kind: str, settings: dict[str, Any], topic: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    """admin's ``cloudEvents`` section publishing to the ``kind`` broker (its ``settings``) with a quick outbox."""
    return {
        "cloudEvents": {
            "enable": True,
            "type": kind,
            kind: settings,
            "eventsPublisher": {"topicName": topic, "eventTypes": event_types or ["all"]},
            "outbox": {"pollInterval": "100ms", "retryDelay": "50ms", "maxRetryDelay": "200ms"},
        }
    }


def cloud_events_config(broker: ThrowawayNats, event_types: list[str] | None = None) -> dict[str, Any]:
    nats_settings = {"servers": [f"127.0.0.1:{broker.port}"], "jetStream": {"enabled": True, "stream": STREAM}}
    return publisher_config("nats", nats_settings, SUBJECT, event_types)


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


async def publish_lifecycle(server: Any, name: str) -> list[Any]:
    """Seed execution ``name``, send its whole lifecycle and wait until the outbox has published it; the requests
    sent."""
    await server.seed_execution(name)
    sent = lifecycle(server.wid(name))
    for request in sent:
        await send(server.admin, request)
    await drained(server)
    return sent


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


def assert_flyte_envelope(event: dict[str, Any], execution: str) -> None:
    """The structured CloudEvent of execution ``execution``'s first event (RUNNING) has flyteadmin's attributes."""
    assert event["specversion"] == "1.0" and event["datacontenttype"] == "application/json"
    assert event["type"] == "com.flyte.resource.flyteidl.admin.WorkflowExecutionEventRequest"
    assert event["source"] == "https://github.com/flyteorg/flyte/flyteadmin"
    assert event["jsonschemaurl"].endswith("/jsonschema/workflow_execution.json")
    assert event["id"] == f'project:"flytesnacks" domain:"development" name:"{execution}".RUNNING'
    assert event["time"] == "2026-01-01T00:00:01Z"


def from_protobuf(event: Any) -> dict[str, Any]:
    """A CloudEvent in the protobuf format (SNS, Pub/Sub) as the structured CloudEvent it carries."""
    attributes = {
        name: value.ce_timestamp.ToJsonString() if value.HasField("ce_timestamp") else value.ce_string
        for name, value in event.attributes.items()
    }
    envelope = {"specversion": event.spec_version, "id": event.id, "source": event.source, "type": event.type}
    return {**envelope, **attributes, "data": json.loads(event.text_data)}


def without_request_id(request: Any) -> Any:
    copy = type(request)()
    copy.CopyFrom(request)
    copy.request_id = ""
    return copy


async def test_every_event_is_published_as_a_flyte_cloud_event_in_order(
    start_configured_exec_server: Any, broker: ThrowawayNats
) -> None:
    async with start_configured_exec_server(cloud_events_config(broker)) as server:
        sent = await publish_lifecycle(server, "ce1")
        received = await stream_events(broker)

    assert [request_of(e) for e in received] == [without_request_id(r) for r in sent]
    first = received[0]
    assert_flyte_envelope(first, "ce1")
    assert first["data"]["event"]["phase"] == "RUNNING"  # protobuf JSON, as flyteadmin's jsonpb
    assert len({e["id"] for e in received}) == len(received)  # a task phase version is its own event


async def test_event_type_filter_publishes_only_the_named_kinds(
    start_configured_exec_server: Any, broker: ThrowawayNats
) -> None:
    async with start_configured_exec_server(cloud_events_config(broker, ["workflow", "task"])) as server:
        await publish_lifecycle(server, "ce2")
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


async def test_a_same_phase_repeat_is_refused_and_stages_no_second_cloud_event(
    start_configured_exec_server: Any, broker: ThrowawayNats
) -> None:
    """Each event sent twice (a data plane re-sending what it already delivered): the repeat of the phase (for
    tasks, of the phase version) admin holds answers ALREADY_EXISTS and stages no outbox row. Counted in the outbox
    with the broker down (JetStream would drop a repeated message id; Kafka and Pub/Sub would deliver it)."""
    async with start_configured_exec_server(cloud_events_config(broker)) as server:
        await server.seed_execution("ce-repeat")
        broker.stop()
        sent = lifecycle(server.wid("ce-repeat"))
        for request in sent:
            await send(server.admin, request)
            with pytest.raises(grpc.aio.AioRpcError) as repeat:
                await send(server.admin, request)
            assert repeat.value.code() == grpc.StatusCode.ALREADY_EXISTS, request
            assert "already recorded" in (repeat.value.details() or "")
        async with server.deps.repos.transaction() as tx:
            assert await tx.outbox.count("cloudevents") == len(sent)


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
    async with start_configured_exec_server(publisher_config("aws", {"region": "us-east-1"}, topic)) as server:
        sent = await publish_lifecycle(server, "ce5")
    received: list[Any] = []
    while len(received) < len(sent):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages")
        assert messages, f"{len(received)} of {len(sent)} events reached the queue"
        for message in messages:  # the SNS envelope's Message: the CloudEvent protobuf, base64 (gizmo's PublishRaw)
            event = CloudEvent.FromString(base64.b64decode(json.loads(message["Body"])["Message"]))
            received.append(from_protobuf(event))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert_flyte_envelope(received[0], "ce5")
    # Published in commit order (moto's standard queue keeps it; SNS itself promises no order).
    assert [request_of(e) for e in received] == [without_request_id(r) for r in sent]


# --- Kafka (a real Kafka-protocol broker, Tansu: see aloft_testing.brokers) ----------------------------------------

KAFKA_TOPIC = "flyte-events"


@pytest.fixture
def kafka() -> Iterator[ThrowawayKafka]:
    server = ThrowawayKafka()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def create_topic(bootstrap: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    client = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the broker answered
    futures = client.create_topics([NewTopic(KAFKA_TOPIC, num_partitions=partitions, replication_factor=1)])
    futures[KAFKA_TOPIC].result(30)


def partitions_of(bootstrap: str) -> int:
    from confluent_kafka.admin import AdminClient

    return len(
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(KAFKA_TOPIC, 30).topics[KAFKA_TOPIC].partitions
    )


def consume_all(bootstrap: str, partitions: int, count: int) -> list[Any]:
    """Every record of the topic's partitions, from the start, as confluent-kafka messages (assigned: no group)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "aloft-test", "enable.auto.commit": False})
    consumer.assign([TopicPartition(KAFKA_TOPIC, p, OFFSET_BEGINNING) for p in range(partitions)])
    records: list[Any] = []
    try:
        for _ in range(120):
            if len(records) >= count:
                break
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is None, message.error()
                records.append(message)
    finally:
        consumer.close()
    return records


def kafka_config(bootstrap: str) -> dict[str, Any]:
    return publisher_config("kafka", {"brokers": [bootstrap], "version": "3.6.0"}, KAFKA_TOPIC)


def as_structured(record: Any) -> dict[str, Any]:
    """A binary-mode Kafka record back as a structured CloudEvent (what a CloudEvents SDK consumer reads)."""
    headers = {name: value.decode() for name, value in record.headers() or []}
    event = {name.removeprefix("ce_"): value for name, value in headers.items() if name.startswith("ce_")}
    event["datacontenttype"] = headers["content-type"]
    event["data"] = json.loads(record.value())
    return event


async def test_cloud_events_to_kafka_in_binary_mode_keyed_by_entity(
    start_configured_exec_server: Any, kafka: ThrowawayKafka
) -> None:
    create_topic(kafka.bootstrap, partitions=3)
    async with start_configured_exec_server(kafka_config(kafka.bootstrap)) as server:
        sent = await publish_lifecycle(server, "ck1")
    records = await asyncio.to_thread(consume_all, kafka.bootstrap, 3, len(sent))
    assert len(records) == len(sent)
    by_key: dict[bytes, list[Any]] = {}
    for record in records:
        by_key.setdefault(record.key(), []).append(record)
    assert set(by_key) == {
        b'project:"flytesnacks" domain:"development" name:"ck1"',
        b'node_id:"n0" execution_id:{project:"flytesnacks" domain:"development" name:"ck1"}',
        b'task_id:{resource_type:TASK project:"flytesnacks" domain:"development" name:"t1" version:"v1"} '
        b'node_execution_id:{node_id:"n0" execution_id:{project:"flytesnacks" domain:"development" name:"ck1"}} '
        b"retry_attempt:0",
    }
    for key, entity_records in by_key.items():  # one partition per entity: its events in publish order
        assert len({r.partition() for r in entity_records}) == 1
        expected = [without_request_id(r) for r in sent if entity_of_request(r) == key.decode()]
        assert [request_of(as_structured(r)) for r in entity_records] == expected
    first = as_structured(
        next(r for r in records if r.key() == b'project:"flytesnacks" domain:"development" name:"ck1"')
    )
    assert_flyte_envelope(first, "ck1")


def entity_of_request(request: Any) -> str:
    from aloft_admin.integrations.cloudevents import entity_key

    return entity_key(request)


async def test_kafka_down_at_first_delays_events_without_losing_any(start_configured_exec_server: Any) -> None:
    kafka = ThrowawayKafka()  # not started: admin accepts every event while no broker answers
    errors = metric("publish_errors_total")
    try:
        async with start_configured_exec_server(kafka_config(kafka.bootstrap)) as server:
            await server.seed_execution("ck2")
            sent = lifecycle(server.wid("ck2"))
            for request in sent:
                await send(server.admin, request)
            await wait_until(lambda: metric("publish_errors_total") > errors, timeout=60)
            kafka.start()  # the producer's metadata request creates the topic (the broker's default)
            await drained(server, timeout=90)
        partitions = await asyncio.to_thread(partitions_of, kafka.bootstrap)
        records = await asyncio.to_thread(consume_all, kafka.bootstrap, partitions, len(sent))
    finally:
        kafka.stop()
    assert sorted(map(entity_and_phase, records)) == sorted(entity_and_phase(r) for r in sent)
    for entity in {entity_of_request(r) for r in sent}:  # each entity's events in order
        expected = [without_request_id(r) for r in sent if entity_of_request(r) == entity]
        assert [request_of(as_structured(r)) for r in records if r.key().decode() == entity] == expected


def entity_and_phase(item: Any) -> str:
    """The event id of a sent request or of a received record."""
    from aloft_admin.integrations.cloudevents import event_id_and_time

    if hasattr(item, "headers"):
        return dict(item.headers())["ce_id"].decode()
    return event_id_and_time(item)[0]


# --- GCP Pub/Sub (Google's Pub/Sub emulator: see aloft_testing.brokers) --------------------------------------------

GCP_PROJECT = "aloft-test"


@pytest.fixture(scope="module")
def pubsub_emulator() -> Iterator[ThrowawayPubSub]:
    server = ThrowawayPubSub()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pubsub(pubsub_emulator: ThrowawayPubSub, monkeypatch: pytest.MonkeyPatch) -> ThrowawayPubSub:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    return pubsub_emulator


def topic_with_subscription(topic: str, ordered: bool) -> str:
    """Creates the topic and a subscription to it on the emulator; returns the subscription's path."""
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(GCP_PROJECT, topic)
    subscription = subscriber.subscription_path(GCP_PROJECT, f"{topic}-reader")
    publisher.create_topic(name=topic_path)
    subscriber.create_subscription(
        request={"name": subscription, "topic": topic_path, "enable_message_ordering": ordered}
    )
    return subscription


def pull_all(subscription: str, count: int) -> list[Any]:
    """Pulls (and acknowledges) until ``count`` messages arrived, acknowledging each batch before the next pull, so
    an ordered subscription hands out each key's next message."""
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    received: list[Any] = []
    for _ in range(100):
        if len(received) >= count:
            break
        response = subscriber.pull(request={"subscription": subscription, "max_messages": 100}, timeout=30)
        received += [m.message for m in response.received_messages]
        if response.received_messages:
            ack_ids = [m.ack_id for m in response.received_messages]
            subscriber.acknowledge(request={"subscription": subscription, "ack_ids": ack_ids})
    return received


async def test_cloud_events_to_pubsub_in_flytes_protobuf_format_ordered_per_entity(
    start_configured_exec_server: Any, pubsub: ThrowawayPubSub
) -> None:
    from aloft_admin.integrations.cloudevents_aws import CloudEvent

    topic = f"flyte-events-{uuid.uuid4().hex[:8]}"  # the emulator serves the whole module
    subscription = await asyncio.to_thread(topic_with_subscription, topic, True)
    async with start_configured_exec_server(publisher_config("gcp", {"projectId": GCP_PROJECT}, topic)) as server:
        sent = await publish_lifecycle(server, "cg1")
    messages = await asyncio.to_thread(pull_all, subscription, len(sent))
    assert len(messages) == len(sent)
    events: dict[str, list[dict[str, Any]]] = {}
    for message in messages:  # data: the CloudEvent protobuf (gizmo's PublishRaw), attribute key: the event kind
        event = from_protobuf(CloudEvent.FromString(message.data))
        assert message.attributes["key"] == event["type"].removeprefix("com.flyte.resource.")
        events.setdefault(message.ordering_key, []).append(event)
    for key, entity_events in events.items():  # the subscription is ordered: each entity's events in order
        expected = [without_request_id(r) for r in sent if entity_of_request(r) == key]
        assert [request_of(e) for e in entity_events] == expected
    assert len(events) == 3
    assert_flyte_envelope(events['project:"flytesnacks" domain:"development" name:"cg1"'][0], "cg1")


# --- cloudEventVersion v2: Flyte's enriched events ----------------------------------------------------------------


async def create_execution(server: Any, name: str, spec: execution_pb2.ExecutionSpec) -> Any:
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    request = execution_pb2.ExecutionCreateRequest(
        project="flytesnacks", domain="development", name=name, spec=spec,
        inputs=literals_pb2.LiteralMap(literals={"a": literal}),
    )  # fmt: skip
    return (await server.admin.CreateExecution(request)).id


async def test_v2_events_carry_flytes_enrichment(start_configured_exec_server: Any, broker: ThrowawayNats) -> None:
    config = cloud_events_config(broker)
    config["cloudEvents"]["cloudEventVersion"] = "v2"
    async with start_configured_exec_server(config) as server:
        lp_id = await server.register_launch_plan("wf2")
        task_id = identifier_pb2.Identifier()
        task_id.CopyFrom(lp_id)
        task_id.resource_type, task_id.name = identifier_pb2.TASK, "wf2.t"
        spec = execution_pb2.ExecutionSpec(launch_plan=lp_id, labels=common_pb2.Labels(values={"team": "ml"}))
        spec.metadata.principal = "alice"
        sent = lifecycle(await create_execution(server, "v2e", spec))
        for request in sent:
            if isinstance(request, admin_event_pb2.TaskExecutionEventRequest):
                request.event.task_id.CopyFrom(task_id)
            await send(server.admin, request)
        await drained(server)
        received = await stream_events(broker)
        task = await server.admin.GetTask(common_pb2.ObjectGetRequest(id=task_id))

    assert [e["type"] for e in received] == [
        "com.flyte.resource.cloudevents." + kind
        for kind in ["WorkflowExecution"] + ["NodeExecution"] * 2 + ["TaskExecution"] * 4
        + ["NodeExecution", "WorkflowExecution"]
    ]  # fmt: skip
    assert [e["source"] for e in received] == ["v2e/end-node"] + ["v2e/n0"] * 2 + ["v2e/n0/0"] * 4 + [
        "v2e/n0",
        "v2e/end-node",
    ]
    assert all(e["jsonschemaurl"] == "" and e["specversion"] == "1.0" for e in received)
    assert received[0]["id"] == 'project:"flytesnacks" domain:"development" name:"v2e".RUNNING'

    def parsed(event: dict[str, Any], message: Any) -> Any:
        return json_format.ParseDict(event["data"], message())

    running = parsed(received[0], cloudevents_pb2.CloudEventWorkflowExecution)
    assert running.raw_event.phase == WF.RUNNING and not running.HasField("launch_plan_id")  # only SUCCEEDED
    succeeded = parsed(received[-1], cloudevents_pb2.CloudEventWorkflowExecution)
    assert succeeded.raw_event.phase == WF.SUCCEEDED
    assert succeeded.launch_plan_id == lp_id and dict(succeeded.labels) == {"team": "ml"}
    assert succeeded.principal == "alice"
    assert set(succeeded.output_interface.outputs.variables) == {"o0"}  # the workflow's interface
    node_running = parsed(received[2], cloudevents_pb2.CloudEventNodeExecution)
    assert node_running.raw_event.phase == NODE.RUNNING and not node_running.labels
    node_done = parsed(received[-2], cloudevents_pb2.CloudEventNodeExecution)
    assert node_done.task_exec_id.task_id == task_id and node_done.task_exec_id.retry_attempt == 0
    assert node_done.task_exec_id.node_execution_id.node_id == "n0"
    assert node_done.output_interface == task.closure.compiled_task.template.interface
    assert node_done.launch_plan_id == lp_id and dict(node_done.labels) == {"team": "ml"}
    for event in received[3:7]:
        task_event = parsed(event, cloudevents_pb2.CloudEventTaskExecution)
        assert dict(task_event.labels) == {"team": "ml"} and task_event.raw_event.task_id == task_id


async def test_v2_enriches_every_workflow_phase_when_configured(
    start_configured_exec_server: Any, broker: ThrowawayNats
) -> None:
    config = cloud_events_config(broker, ["workflow"])
    config["cloudEvents"]["cloudEventVersion"] = "v2"
    config["cloudEvents"]["eventsPublisher"]["enrichAllWorkflowEventTypes"] = True
    async with start_configured_exec_server(config) as server:
        lp_id = await server.register_launch_plan("wf3")
        wid = await create_execution(server, "v2all", execution_pb2.ExecutionSpec(launch_plan=lp_id))
        await send(server.admin, lifecycle(wid)[0])
        await drained(server)
        received = await stream_events(broker)
    running = json_format.ParseDict(received[0]["data"], cloudevents_pb2.CloudEventWorkflowExecution())
    assert running.raw_event.phase == WF.RUNNING and running.launch_plan_id == lp_id
