"""Cloud events (Flyte's ``cloudEvents``, message format v1): workflow, node and task events as CloudEvents 1.0.

Each event is flyteadmin's: type ``com.flyte.resource.<admin request message name>``, source flyteadmin's URL, the
``jsonschemaurl`` extension, ``time`` when the event occurred and, as ``data``, the admin event request
(``flyteidl.admin.WorkflowExecutionEventRequest`` …) as protobuf JSON. The id is the entity's identifier and phase
(Flyte's form) plus the task phase version, so an event delivered twice keeps its id and consumers can drop repeats.
Senders put the structured-mode JSON (``application/cloudevents+json``) on the wire, as the Go SDK's NATS binding.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core
from google.protobuf import descriptor, json_format
from google.protobuf.message import Message

from aloft_admin.config import CloudEventsConfig

log = logging.getLogger(__name__)

SOURCE = "https://github.com/flyteorg/flyte/flyteadmin"
TYPE_PREFIX = "com.flyte.resource"
JSON_SCHEMA_URL_KEY = "jsonschemaurl"
JSON_SCHEMA_URL = "https://github.com/flyteorg/flyteidl/blob/v0.24.14/jsonschema/workflow_execution.json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"

WORKFLOW = admin_event_pb2.WorkflowExecutionEventRequest
NODE = admin_event_pb2.NodeExecutionEventRequest
TASK = admin_event_pb2.TaskExecutionEventRequest
REQUEST_TYPES: dict[str, type[Message]] = {
    WORKFLOW.DESCRIPTOR.full_name: WORKFLOW,
    NODE.DESCRIPTOR.full_name: NODE,
    TASK.DESCRIPTOR.full_name: TASK,
}
# eventsPublisher.eventTypes → the request message names published (Flyte's SupportedEvents).
SUPPORTED_EVENTS = {
    "workflow": WORKFLOW.DESCRIPTOR.full_name,
    "node": NODE.DESCRIPTOR.full_name,
    "task": TASK.DESCRIPTOR.full_name,
}


def published_kinds(config: CloudEventsConfig) -> frozenset[str]:
    """The admin request message names ``eventsPublisher.eventTypes`` selects (``all``/``*``: every kind)."""
    types = config.eventsPublisher.eventTypes
    if "all" in types or "*" in types:
        return frozenset(SUPPORTED_EVENTS.values())
    return frozenset(SUPPORTED_EVENTS[t] for t in types)


def go_text(message: Message) -> str:
    """A message in the one-line text form Go's ``proto.Message.String()`` gives (``project:"p" name:"n"``)."""
    parts = []
    for field, value in message.ListFields():
        if field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            parts.append(f"{field.name}:{{{go_text(value)}}}")
        elif field.type == descriptor.FieldDescriptor.TYPE_ENUM:
            enum = field.enum_type
            parts.append(f"{field.name}:{enum.values_by_number[value].name if enum else value}")
        elif field.type == descriptor.FieldDescriptor.TYPE_STRING:
            parts.append(f"{field.name}:{json.dumps(value)}")
        else:
            parts.append(f"{field.name}:{value}")
    return " ".join(parts)


def _rfc3339(seconds: int, nanos: int) -> str:
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def event_id_and_time(request: Message) -> tuple[str, str]:
    """Flyte's ``<entity identifier>.<PHASE>`` (task events: the task execution's identifier and phase version)."""
    if isinstance(request, admin_event_pb2.WorkflowExecutionEventRequest):
        wf = request.event
        phase = core.WorkflowExecution.Phase.Name(wf.phase)
        return f"{go_text(wf.execution_id)}.{phase}", _rfc3339(wf.occurred_at.seconds, wf.occurred_at.nanos)
    if isinstance(request, admin_event_pb2.NodeExecutionEventRequest):
        node = request.event
        phase = core.NodeExecution.Phase.Name(node.phase)
        return f"{go_text(node.id)}.{phase}", _rfc3339(node.occurred_at.seconds, node.occurred_at.nanos)
    if isinstance(request, admin_event_pb2.TaskExecutionEventRequest):
        task = request.event
        entity = (
            f"task_id:{{{go_text(task.task_id)}}} node_execution_id:{{{go_text(task.parent_node_execution_id)}}} "
            f"retry_attempt:{task.retry_attempt}"
        )
        phase = core.TaskExecution.Phase.Name(task.phase)
        return f"{entity}.{phase}.{task.phase_version}", _rfc3339(task.occurred_at.seconds, task.occurred_at.nanos)
    raise TypeError(f"unsupported event type {type(request).__name__}")


def entity_key(request: Message) -> str:
    """What per-entity order is kept for: the execution, node execution or task execution attempt."""
    event_id, _ = event_id_and_time(request)
    return event_id.rsplit(".", 2 if isinstance(request, admin_event_pb2.TaskExecutionEventRequest) else 1)[0]


def to_cloud_event(kind: str, payload: bytes) -> dict[str, Any]:
    """The structured CloudEvent (a JSON object) for one outbox row: ``kind`` names the admin request message."""
    request = REQUEST_TYPES[kind].FromString(payload)
    event_id, occurred = event_id_and_time(request)
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": f"{TYPE_PREFIX}.{kind}",
        "datacontenttype": "application/json",
        "time": occurred,
        JSON_SCHEMA_URL_KEY: JSON_SCHEMA_URL,
        "data": json_format.MessageToDict(request),
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


class Sender(Protocol):
    """Puts one structured CloudEvent on the wire; returns once the broker has it (raises otherwise). ``key`` is the
    entity the event is about (``entity_key``): brokers with partitions or ordering keys keep its events in order."""

    async def send(self, event: dict[str, Any], key: str = "") -> None: ...

    async def close(self) -> None: ...


class NatsSender:
    """Flyte's NATS sender: the event's JSON on ``eventsPublisher.topicName``. With ``nats.jetStream.enabled`` the
    publish waits for JetStream's acknowledgement (stored, de-duplicated by event id) and the stream is created
    over the subject when missing; without, a plain publish flushed to the server, as flyteadmin does."""

    def __init__(self, config: CloudEventsConfig) -> None:
        self._config = config
        self._nc: Any = None
        self._js: Any = None

    async def _connect(self) -> None:
        import nats

        nats_config = self._config.nats
        options: dict[str, Any] = {
            "servers": [s if "://" in s else f"nats://{s}" for s in nats_config.servers],
            "name": "flyteadmin",
            "connect_timeout": 2,
            "allow_reconnect": True,
            "max_reconnect_attempts": self._config.reconnectAttempts or -1,
            "reconnect_time_wait": max(self._config.reconnectDelaySeconds, 1) * 0.5,
            "error_cb": _log_nats_error,
        }
        if nats_config.tokenAuthentication.enabled:
            options["token"] = nats_config.tokenAuthentication.token
        if nats_config.userAuthentication.enabled:
            options["user"] = nats_config.userAuthentication.user
            options["password"] = nats_config.userAuthentication.password
        self._nc = await nats.connect(**options)
        if nats_config.jetStream.enabled:
            self._js = self._nc.jetstream(timeout=5)
            await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        from nats.js.api import StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        stream, subject = self._config.nats.jetStream.stream, self._config.eventsPublisher.topicName
        try:
            await self._js.stream_info(stream)
        except NotFoundError:
            await self._js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.FILE))

    async def send(self, event: dict[str, Any], key: str = "") -> None:
        if self._nc is None or self._nc.is_closed:
            await self._connect()
        subject, body = self._config.eventsPublisher.topicName, encode(event)
        if self._js is not None:
            await self._js.publish(subject, body, headers={"Nats-Msg-Id": event["id"]})
        else:
            await self._nc.publish(subject, body)
            await self._nc.flush(timeout=5)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = self._js = None


async def _log_nats_error(error: Exception) -> None:
    log.warning("cloud events: NATS connection: %s", error)


def build_cloudevents_sender(config: CloudEventsConfig) -> Sender | None:
    """The sender ``cloudEvents`` configures; None when cloud events are off (``enable`` false, type local)."""
    if not config.publishing():
        return None
    if config.type == "aws":
        from aloft_admin.integrations.cloudevents_aws import SnsSender

        return SnsSender(config)
    if config.type == "gcp":
        from aloft_admin.integrations.gcp_pubsub import PubSubSender

        return PubSubSender(config)
    if config.type == "kafka":
        from aloft_admin.integrations.cloudevents_kafka import KafkaSender

        return KafkaSender(config)
    return NatsSender(config)
