"""GCP Pub/Sub, as flyteadmin uses it through gizmo's GCP publisher and subscriber: cloud events
(``cloudEvents.type: gcp``) and notifications (``notifications.type: gcp``).

- A cloud event is published to ``projects/<gcp.projectId>/topics/<eventsPublisher.topicName>`` in the CloudEvents
  protobuf format (``io.cloudevents.v1.CloudEvent``, as for SNS but not base64-encoded: Pub/Sub data is bytes) with
  the attribute ``key`` naming the event kind (gizmo's PublishRaw). Aloft adds the entity as the ordering key, so a
  subscription with message ordering receives each entity's events in order.
- A notification is the ``admin.EmailMessage`` protobuf, published to ``publisher.topicName``; the processor pulls
  the subscription ``processor.queueName`` and emails each message. A message is acknowledged once sent (or when it
  can never be decoded); a failed send is nacked, so Pub/Sub redelivers it (Flyte acknowledges it anyway).

The client is google-cloud-pubsub; ``PUBSUB_EMULATOR_HOST`` points it at an emulator, as for every Google client.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flyteidl.admin import notification_pb2
from google.protobuf.message import DecodeError

from aloft_admin.config import CloudEventsConfig, NotificationsConfig
from aloft_admin.integrations.cloudevents_aws import to_protobuf
from aloft_admin.integrations.notifications import Emailer, keep_processing

log = logging.getLogger(__name__)

EMAIL_KEY = notification_pb2.EmailMessage.DESCRIPTOR.full_name
PUBLISH_TIMEOUT_S = 30.0


class TopicPublisher:
    """Publishes to one topic and waits for Pub/Sub's acknowledgement (the message id)."""

    def __init__(self, project: str, topic: str, ordered: bool = False) -> None:
        from google.cloud import pubsub_v1

        options = pubsub_v1.types.PublisherOptions(enable_message_ordering=ordered)
        self._client = pubsub_v1.PublisherClient(publisher_options=options)
        self.topic = self._client.topic_path(project, topic)

    async def publish(self, data: bytes, ordering_key: str = "", **attributes: str) -> str:
        future = self._client.publish(self.topic, data, ordering_key=ordering_key, **attributes)
        try:
            return str(await asyncio.wait_for(asyncio.wrap_future(future), PUBLISH_TIMEOUT_S))
        except BaseException:
            if ordering_key:  # the client pauses a key after a failure until told to go on
                self._client.resume_publish(self.topic, ordering_key)
            raise

    def close(self) -> None:
        self._client.stop()


class PubSubSender:
    """Flyte's PubSubSender over gizmo's GCP publisher."""

    def __init__(self, config: CloudEventsConfig) -> None:
        self._publisher = TopicPublisher(config.gcp.projectId, config.eventsPublisher.topicName, ordered=True)

    async def send(self, event: dict[str, Any], key: str = "") -> None:
        data = to_protobuf(event).SerializeToString()
        await self._publisher.publish(data, ordering_key=key, key=event_kind(event))

    async def close(self) -> None:
        await asyncio.to_thread(self._publisher.close)


def event_kind(event: dict[str, Any]) -> str:
    """What Flyte passes as the message key: the event type without ``com.flyte.resource.``."""
    return str(event["type"]).removeprefix("com.flyte.resource.")


class PubSubNotificationPublisher:
    """Flyte's GCP notifications publisher: the EmailMessage's protobuf bytes published to the topic."""

    def __init__(self, config: NotificationsConfig) -> None:
        self._publisher = TopicPublisher(config.gcp.projectId, config.publisher.topicName)

    async def send(self, email: notification_pb2.EmailMessage) -> None:
        await self._publisher.publish(email.SerializeToString(), key=EMAIL_KEY)


class PubSubProcessor:
    """Flyte's GcpProcessor: pulls the subscription and emails every message."""

    def __init__(self, config: NotificationsConfig, emailer: Emailer, wait_seconds: float = 5) -> None:
        from google.cloud import pubsub_v1

        self._config = config
        self._emailer = emailer
        self._wait = wait_seconds
        self._subscriber = pubsub_v1.SubscriberClient()
        self.subscription = self._subscriber.subscription_path(config.gcp.projectId, config.processor.queueName)

    async def run(self) -> None:
        where = f"Pub/Sub subscription {self.subscription}"
        await keep_processing(self.process_once, where, self._config.reconnectDelaySeconds)

    async def process_once(self) -> int:
        """Pull one batch and handle it; returns how many emails were sent."""
        from google.api_core import exceptions

        try:  # no client-side retries: the thread ends within ``wait`` seconds, so admin can stop; run() retries
            response = await asyncio.to_thread(
                self._subscriber.pull,
                request={"subscription": self.subscription, "max_messages": 10},
                timeout=self._wait,
                retry=None,
            )
        except exceptions.DeadlineExceeded:  # nothing arrived while waiting
            return 0
        done, failed, sent = [], [], 0
        for received in response.received_messages:
            try:
                email = notification_pb2.EmailMessage.FromString(received.message.data)
            except DecodeError as exc:
                log.error("notifications: dropping an undecodable Pub/Sub message: %s", exc)
                done.append(received.ack_id)
                continue
            try:
                await self._emailer.send(email)
            except Exception as exc:  # noqa: BLE001 - nacked: Pub/Sub delivers it again, so it is retried
                log.warning("notifications: sending to %s failed: %s", list(email.recipients_email), exc)
                failed.append(received.ack_id)
                continue
            done.append(received.ack_id)
            sent += 1
        if done:
            await asyncio.to_thread(
                self._subscriber.acknowledge, request={"subscription": self.subscription, "ack_ids": done}
            )
        if failed:
            await asyncio.to_thread(
                self._subscriber.modify_ack_deadline,
                request={"subscription": self.subscription, "ack_ids": failed, "ack_deadline_seconds": 0},
            )
        return sent

    def close(self) -> None:
        self._subscriber.close()
