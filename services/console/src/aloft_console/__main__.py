"""``aloft-console [--config FILE] serve|check-config``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aloft_config import load_config
from aloft_console.app import build_app
from aloft_console.config import ConsoleConfig
from aloft_service.cli import run_cli
from aloft_service.logging import configure_logging
from aloft_service.runtime import serve_http_forever


def _load(args: argparse.Namespace) -> ConsoleConfig:
    return load_config(args.config, ConsoleConfig)


def _check(args: argparse.Namespace) -> int:
    _load(args)
    print("configuration is valid")
    return 0


def _serve(args: argparse.Namespace) -> int:
    config = _load(args)
    configure_logging(config.logger, "console")
    section = config.console
    asyncio.run(serve_http_forever(build_app(config), section.host, section.httpPort, "console"))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        "console",
        {
            "serve": ("run the console HTTP server", _serve),
            "check-config": ("validate the configuration and exit", _check),
        },
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
