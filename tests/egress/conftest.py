"""Egress end to end: the real datacatalog, admin and propeller processes (the stack of tests/e2e) with admin's
``cloudEvents`` publishing to a throwaway nats-server with JetStream (started from the installed binary, so the test
can restart it) and ``notifications`` sending through an SMTP server (aiosmtpd, in the test process)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from aloft_testing.servers import ThrowawayNats, free_port
from aloft_testing.stack import QUICK_PROPELLER, Stack, stack_config, stack_ports, started_stack

EGRESS_DIR = Path(__file__).resolve().parent
E2E_DIR = EGRESS_DIR.parent / "e2e"  # driver.py
SUBJECT = "flyte.events"
STREAM = "flyte-events"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

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
    box.port = controller.port  # type: ignore[attr-defined]
    try:
        yield box
    finally:
        controller.stop()


def _egress_sections(broker: ThrowawayNats, smtp_port: int) -> dict[str, Any]:
    return {
        "cloudEvents": {
            "enable": True,
            "type": "nats",
            "nats": {"servers": [f"127.0.0.1:{broker.port}"], "jetStream": {"enabled": True, "stream": STREAM}},
            "eventsPublisher": {"topicName": SUBJECT, "eventTypes": ["all"]},
        },
        "notifications": {
            "type": "sandbox",
            "emailer": {
                "emailServerConfig": {"serviceName": "smtp", "smtpServer": "127.0.0.1", "smtpPort": str(smtp_port)},
                "sender": "flyte@example.com",
                "subject": 'Execution "{{ workflow.name }}" has {{ phase }} in "{{ domain }}".',
                "body": "Execution {{ name }} of {{ launch_plan.name }} has {{ phase }} in {{ project }}.{{ error }}",
            },
        },
    }


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: ThrowawayNats, inbox: Inbox) -> Iterator[Stack]:
    """The e2e stack (aloft_testing.stack) without the scheduler, admin publishing events and sending emails."""
    root = tmp_path_factory.mktemp("egress-stack")
    services = ("datacatalog", "admin", "propeller")
    ports = stack_ports(services)
    config = stack_config(root, ports, QUICK_PROPELLER)
    config.update(_egress_sections(broker, inbox.port))  # type: ignore[attr-defined]
    with started_stack(root, E2E_DIR, config, ports, services) as running:
        yield running


@pytest.fixture(scope="session")
def registered(stack: Stack) -> str:
    """tests/egress/flows registered with `pyflyte register`; run through tests/e2e/driver.py."""
    version = f"egress-{uuid.uuid4().hex[:10]}"
    stack.register(version, "flows", cwd=EGRESS_DIR)
    return version
