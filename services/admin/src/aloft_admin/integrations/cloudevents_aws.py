"""Cloud events to AWS SNS, as flyteadmin's ``cloudEvents.type: aws`` sends them: each event in the CloudEvents
protobuf format (``io.cloudevents.v1.CloudEvent``, what sdk-go's ``format/protobuf`` writes), base64-encoded (gizmo's
SNS publisher) as the message published to the topic ``eventsPublisher.topicName`` (an ARN) in ``aws.region``.

The CloudEvent message is the CloudEvents spec's ``cloudevents.proto``, built here from its descriptor (no PyPI
package carries it): JSON data goes in ``text_data``, ``datacontenttype`` and extensions as ``ce_string``
attributes, ``time`` as ``ce_timestamp``."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.message import Message

from aloft_admin.config import CloudEventsConfig

_REQUIRED = frozenset({"specversion", "id", "source", "type", "data"})


def _cloud_event_file() -> descriptor_pb2.FileDescriptorProto:
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="io/cloudevents/v1/cloudevents.proto",
        package="io.cloudevents.v1",
        syntax="proto3",
        dependency=["google/protobuf/any.proto", "google/protobuf/timestamp.proto"],
    )
    event = proto.message_type.add(name="CloudEvent")
    for number, name in enumerate(("id", "source", "spec_version", "type"), start=1):
        event.field.add(name=name, number=number, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry = event.nested_type.add(name="AttributesEntry", options=descriptor_pb2.MessageOptions(map_entry=True))
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry.field.add(
        name="value", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
        type_name=".io.cloudevents.v1.CloudEvent.CloudEventAttributeValue",
    )  # fmt: skip
    event.field.add(
        name="attributes", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
        type_name=".io.cloudevents.v1.CloudEvent.AttributesEntry",
    )  # fmt: skip
    event.oneof_decl.add(name="data")
    for number, name, kind, type_name in (
        (6, "binary_data", F.TYPE_BYTES, ""),
        (7, "text_data", F.TYPE_STRING, ""),
        (8, "proto_data", F.TYPE_MESSAGE, ".google.protobuf.Any"),
    ):
        field = event.field.add(name=name, number=number, type=kind, label=F.LABEL_OPTIONAL, oneof_index=0)
        if type_name:  # set (even empty) means "a message or enum type" in descriptor.proto's proto2
            field.type_name = type_name
    value = event.nested_type.add(name="CloudEventAttributeValue")
    value.oneof_decl.add(name="attr")
    for number, name, kind, type_name in (
        (1, "ce_boolean", F.TYPE_BOOL, ""),
        (2, "ce_integer", F.TYPE_INT32, ""),
        (3, "ce_string", F.TYPE_STRING, ""),
        (4, "ce_bytes", F.TYPE_BYTES, ""),
        (5, "ce_uri", F.TYPE_STRING, ""),
        (6, "ce_uri_ref", F.TYPE_STRING, ""),
        (7, "ce_timestamp", F.TYPE_MESSAGE, ".google.protobuf.Timestamp"),
    ):
        field = value.field.add(name=name, number=number, type=kind, label=F.LABEL_OPTIONAL, oneof_index=0)
        if type_name:
            field.type_name = type_name
    return proto


def _cloud_event_class() -> type[Message]:
    pool = descriptor_pool.DescriptorPool()
    for dependency in (any_pb2.DESCRIPTOR, timestamp_pb2.DESCRIPTOR):
        file_proto = descriptor_pb2.FileDescriptorProto()
        dependency.CopyToProto(file_proto)
        pool.Add(file_proto)
    pool.Add(_cloud_event_file())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("io.cloudevents.v1.CloudEvent"))


CloudEvent = _cloud_event_class()


def to_protobuf(event: dict[str, Any]) -> Message:
    """The structured CloudEvent ``to_cloud_event`` builds, as ``io.cloudevents.v1.CloudEvent``."""
    missing = _REQUIRED - event.keys()
    if missing:
        raise ValueError(f"cloud event without {sorted(missing)}")
    message: Any = CloudEvent(
        id=event["id"], source=event["source"], spec_version=event["specversion"], type=event["type"]
    )
    for key, value in event.items():
        if key in _REQUIRED:
            continue
        if key == "time":
            message.attributes[key].ce_timestamp.FromJsonString(value)
        else:
            message.attributes[key].ce_string = str(value)
    content_type = event.get("datacontenttype", "")
    if content_type == "application/json" or content_type.startswith("text/"):
        message.text_data = json.dumps(event["data"], separators=(",", ":"))
    else:
        message.binary_data = event["data"] if isinstance(event["data"], bytes) else json.dumps(event["data"]).encode()
    return message  # type: ignore[no-any-return]


class SnsSender:
    """Flyte's PubSubSender over gizmo's SNS publisher (credentials and endpoint from the AWS_* environment)."""

    def __init__(self, config: CloudEventsConfig) -> None:
        import boto3

        self._topic = config.eventsPublisher.topicName
        self._sns = boto3.client("sns", region_name=config.aws.region or None)

    async def send(self, event: dict[str, Any], key: str = "") -> None:
        body = base64.b64encode(to_protobuf(event).SerializeToString()).decode()
        await asyncio.to_thread(self._sns.publish, TopicArn=self._topic, Message=body)

    async def close(self) -> None:
        self._sns.close()
