"""Cloud events to Kafka, as flyteadmin's ``cloudEvents.type: kafka`` sends them (sdk-go's kafka_sarama sender):
CloudEvents' Kafka protocol binding in binary content mode — the attributes as ``ce_<name>`` headers, ``content-type``
``application/json``, the event's JSON ``data`` as the record value — to the topic ``eventsPublisher.topicName``.

Flyte keys each record with the event id, which scatters one entity's events over the topic's partitions; Aloft keys
them with the entity (execution, node execution, task attempt), so a topic of any partition count keeps each entity's
events in order. The client is confluent-kafka (librdkafka); a send returns once the broker acknowledged the record
(``acks=all``) and raises otherwise, so the outbox retries it."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aloft_admin.config import CloudEventsConfig, KafkaConfig

log = logging.getLogger(__name__)

CONTENT_TYPE_HEADER = "content-type"
HEADER_PREFIX = "ce_"
# A record not acknowledged by then fails the send (the outbox retries it, backing off) instead of librdkafka
# retrying it in the background for its default five minutes.
DELIVERY_TIMEOUT_MS = 10_000


def producer_settings(config: KafkaConfig) -> dict[str, Any]:
    """librdkafka's settings for Flyte's ``kafka`` section (what ``UpdateSaramaConfig`` sets on sarama)."""
    settings: dict[str, Any] = {
        "bootstrap.servers": ",".join(config.brokers),
        "client.id": "flyteadmin",
        "acks": "all",
        "message.timeout.ms": DELIVERY_TIMEOUT_MS,
        "socket.timeout.ms": DELIVERY_TIMEOUT_MS,
        "max.in.flight.requests.per.connection": 1,
    }
    if config.version:
        # sarama speaks exactly this version; librdkafka asks the broker (ApiVersionRequest, Kafka >= 0.10) and
        # uses the version only for brokers that cannot answer.
        settings["broker.version.fallback"] = config.version
        if tuple(int(part) for part in config.version.split(".")[:2]) < (0, 10):
            settings["api.version.request"] = False
    sasl, tls = config.saslConfig, config.tlsConfig
    if sasl.enabled:
        password = Path(sasl.passwordPath).read_text().strip() if sasl.passwordPath else sasl.password
        settings.update(
            {"sasl.mechanism": sasl.mechanism or "PLAIN", "sasl.username": sasl.user, "sasl.password": password}
        )
    if tls.enabled:
        settings["enable.ssl.certificate.verification"] = not tls.insecureSkipVerify
        if tls.certPath and tls.keyPath:
            settings["ssl.certificate.location"] = tls.certPath
            settings["ssl.key.location"] = tls.keyPath
    settings["security.protocol"] = {
        (False, False): "PLAINTEXT",
        (True, False): "SASL_PLAINTEXT",
        (False, True): "SSL",
        (True, True): "SASL_SSL",
    }[(sasl.enabled, tls.enabled)]
    return settings


def binary_record(event: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The record value and headers of one structured CloudEvent in the Kafka binding's binary mode."""
    headers = []
    for name, value in event.items():
        if name in ("data", "datacontenttype"):
            continue
        headers.append((f"{HEADER_PREFIX}{name}", str(value).encode()))
    headers.append((CONTENT_TYPE_HEADER, event.get("datacontenttype", "application/json").encode()))
    data = event.get("data")
    value = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return value, headers


class KafkaSender:
    """Produces each event to the topic and waits for the broker's acknowledgement."""

    def __init__(self, config: CloudEventsConfig, producer: Any = None) -> None:
        self._topic = config.eventsPublisher.topicName
        self._settings = producer_settings(config.kafka)
        self._producer = producer
        self._last_error = ""

    def _client(self) -> Any:
        if self._producer is None:
            from confluent_kafka import Producer

            # librdkafka's own log repeats each failed reconnect; errors reach _on_error (deduplicated) instead.
            callbacks = {"error_cb": self._on_error, "logger": log, "log_level": 2}
            self._producer = Producer({**self._settings, **callbacks})
        return self._producer

    def _on_error(self, error: Any) -> None:
        # librdkafka reports every failed reconnect while the broker is away: log the first of each kind only.
        if str(error) != self._last_error:
            self._last_error = str(error)
            log.warning("cloud events: Kafka: %s", error)

    async def send(self, event: dict[str, Any], key: str = "") -> None:
        value, headers = binary_record(event)
        producer = self._client()
        outcome: dict[str, Any] = {}

        def delivered(error: Any, _message: Any) -> None:
            outcome["error"] = error

        producer.produce(
            self._topic, value=value, key=(key or event["id"]).encode(), headers=headers, on_delivery=delivered
        )
        left = await asyncio.to_thread(producer.flush, DELIVERY_TIMEOUT_MS / 1000 + 5)
        if left or "error" not in outcome:
            raise TimeoutError(f"Kafka did not acknowledge cloud event {event['id']} in time")
        if outcome["error"] is not None:
            raise RuntimeError(f"Kafka refused cloud event {event['id']}: {outcome['error']}")
        self._last_error = ""

    async def close(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, 5)
        self._producer = None
