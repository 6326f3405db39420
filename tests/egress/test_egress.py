"""Cloud events and notifications of real executions: unmodified flytekit registers and runs workflows on the real
datacatalog, admin and propeller processes; admin publishes to a real nats-server (JetStream) and emails through a
real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import nats
import pytest
from egress_harness import assert_every_event_in_order, assert_failure_emailed, of_execution, wait_drained
from flyteidl.core import execution_pb2 as core
from nats.js.errors import NotFoundError

from aloft_testing.servers import ThrowawayNats

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

STREAM, SUBJECT = "flyte-events", "flyte.events"


async def _stream(broker: ThrowawayNats) -> list[dict[str, Any]]:
    """What a NATS subscriber receives: a JetStream ordered consumer of the subject, from the stream's start."""
    nc = await nats.connect(broker.url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(STREAM)
        except NotFoundError:  # admin creates it with its first publish
            return []
        subscription = await js.subscribe(SUBJECT, ordered_consumer=True)
        received: list[dict[str, Any]] = []
        while len(received) < info.state.messages:
            message = await subscription.next_msg(timeout=10)
            assert message.subject == SUBJECT
            received.append(json.loads(message.data or b""))
        await subscription.unsubscribe()
        return received
    finally:
        await nc.close()


def stream_events(broker: ThrowawayNats) -> list[dict[str, Any]]:
    import asyncio

    return asyncio.run(_stream(broker))


def test_every_event_of_an_execution_arrives_as_a_cloud_event_across_a_nats_restart(
    stack: Any, registered: str, broker: ThrowawayNats
) -> None:
    before = len(stream_events(broker))
    result: dict[str, Any] = {}
    run = threading.Thread(
        target=lambda: result.update(stack.driver("run-flow", registered, "flows.notify.chain", '{"x": 1}'))
    )
    run.start()
    deadline = time.monotonic() + 120
    while len(stream_events(broker)) <= before:  # the execution is under way and publishing
        assert time.monotonic() < deadline and run.is_alive(), "no cloud event arrived"
        time.sleep(0.1)
    broker.stop()
    time.sleep(3)  # events keep being accepted while NATS is down
    broker.start()  # same port and JetStream store
    run.join(300)
    assert result.get("phase") == core.WorkflowExecution.SUCCEEDED, result
    wait_drained(stack)
    assert "cloud events: NATS connection" in stack.log_tail("admin", 5000)  # admin did lose the broker

    events = of_execution(stream_events(broker), result["name"])
    for event in events:
        assert event["source"] == "https://github.com/flyteorg/flyte/flyteadmin"
    assert_every_event_in_order(stack, result["name"], events)  # none twice (JetStream de-duplicates by event id)


def test_a_failed_execution_emails_its_launch_plan_recipients(stack: Any, registered: str, inbox: Any) -> None:
    assert_failure_emailed(stack, registered, inbox)
