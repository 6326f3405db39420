"""Egress end to end: the real datacatalog, admin and propeller processes (the stack of tests/e2e) with admin's
``cloudEvents`` publishing to a throwaway nats-server with JetStream (started from the installed binary, so the test
can restart it) and ``notifications`` sending through an SMTP server (aiosmtpd, in the test process)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from aloft_testing.servers import ThrowawayNats, free_port

EGRESS_DIR = Path(__file__).resolve().parent
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"
SUBJECT = "flyte.events"
STREAM = "flyte-events"


def _load_e2e_harness() -> Any:
    spec = importlib.util.spec_from_file_location("aloft_e2e_harness", EGRESS_DIR.parent / "e2e" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


_harness = _load_e2e_harness()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def broker() -> Iterator[ThrowawayNats]:
    server = ThrowawayNats()
    server.start()
    try:
        yield server
    finally:
        server.remove()


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
def stack(tmp_path_factory: pytest.TempPathFactory, broker: ThrowawayNats, inbox: Inbox) -> Iterator[Any]:
    venv = _harness.flytekit_venv()
    root = tmp_path_factory.mktemp("egress-stack")
    services = ("datacatalog", "admin", "propeller")
    # Every port the e2e config writer names (the scheduler's too, though it is not started here).
    ports = {f"{svc}_{kind}": _harness._free_port() for svc in _harness.SERVICES for kind in ("grpc", "http")}
    config_file, flyte_config = _harness._write_configs(root, ports, venv)
    config = yaml.safe_load(config_file.read_text())
    config.pop("scheduler", None)
    config.update(_egress_sections(broker, inbox.port))  # type: ignore[attr-defined]
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    logs = root / "logs"
    logs.mkdir()
    running = _harness.Stack(root, config_file, flyte_config, ports, venv, logs)
    try:
        for name in services:
            running.start(name)
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def registered(stack: Any) -> str:
    version = f"egress-{uuid.uuid4().hex[:10]}"
    result = subprocess.run(
        [str(stack.venv / "bin" / "pyflyte"), "--config", str(stack.flyte_config), "register",
         "--project", "flytesnacks", "--domain", "development", "--image", IMAGE, "--version", version, "flows"],
        cwd=EGRESS_DIR, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"pyflyte register failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
        f"--- admin log ---\n{stack.log_tail('admin')}"
    )
    return version
