"""Egress end to end: the real datacatalog, admin and propeller processes (the stack of tests/e2e) with admin's
``cloudEvents`` publishing to a throwaway nats-server with JetStream (started from the installed binary, so the test
can restart it) and ``notifications`` sending through an SMTP server (aiosmtpd, in the test process). The Kafka and
Pub/Sub scenarios (test_egress_brokers.py) start their own stacks."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test modules import egress_harness (importlib mode)

from egress_harness import egress_stack, smtp_emailer

from aloft_testing.servers import ThrowawayNats, free_port
from aloft_testing.stack import Stack

SUBJECT = "flyte.events"
STREAM = "flyte-events"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def broker() -> Iterator[ThrowawayNats]:
    with ThrowawayNats() as server:
        yield server


@pytest.fixture(scope="session")
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: ThrowawayNats, inbox: Inbox) -> Iterator[Stack]:
    """Admin publishing events to NATS (JetStream) and emailing through the SMTP server."""
    sections = {
        "cloudEvents": {
            "enable": True,
            "type": "nats",
            "nats": {"servers": [f"127.0.0.1:{broker.port}"], "jetStream": {"enabled": True, "stream": STREAM}},
            "eventsPublisher": {"topicName": SUBJECT, "eventTypes": ["all"]},
        },
        "notifications": {"type": "sandbox", "emailer": smtp_emailer(inbox.port)},
    }
    with egress_stack(tmp_path_factory.mktemp("egress-stack"), sections) as running:
        yield running


@pytest.fixture(scope="session")
def registered(stack: Stack) -> str:
    """The version tests/egress/flows were registered under; run through tests/e2e/driver.py."""
    return str(stack.version)  # type: ignore[attr-defined]
