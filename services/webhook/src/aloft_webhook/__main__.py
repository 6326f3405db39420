"""``aloft-webhook [--config FILE] serve|check-config``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aloft_config import load_config
from aloft_service.cli import run_cli
from aloft_service.logging import configure_logging
from aloft_service.runtime import serve_http_forever
from aloft_webhook.app import build_app
from aloft_webhook.config import WebhookConfig


def _load(args: argparse.Namespace) -> WebhookConfig:
    return load_config(args.config, WebhookConfig)


def _check(args: argparse.Namespace) -> int:
    _load(args)
    print("configuration is valid")
    return 0


def _serve(args: argparse.Namespace) -> int:
    config = _load(args)
    configure_logging(config.logger, "webhook")
    section = config.webhook
    asyncio.run(serve_http_forever(build_app(config), section.host, section.listenPort, "webhook"))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        "webhook",
        {
            "serve": ("run the webhook HTTP server (/healthcheck, /metrics)", _serve),
            "check-config": ("validate the configuration and exit", _check),
        },
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
