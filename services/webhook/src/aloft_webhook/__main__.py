"""``aloft-webhook [--config FILE] serve|check-config``."""

from __future__ import annotations

import sys

from aloft_service.cli import HttpServiceCommands, run_http_service_cli
from aloft_webhook.app import build_app
from aloft_webhook.config import WebhookConfig


def _listen(config: WebhookConfig) -> tuple[str, int]:
    return config.webhook.host, config.webhook.listenPort


COMMANDS = HttpServiceCommands(
    "webhook", WebhookConfig, build_app, _listen, serve_help="run the webhook HTTP server (/healthcheck, /metrics)"
)


def main(argv: list[str] | None = None) -> int:
    return run_http_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
