"""``aloft-console [--config FILE] serve|check-config``."""

from __future__ import annotations

import sys

from aloft_console.app import build_app
from aloft_console.config import ConsoleConfig
from aloft_service.cli import HttpServiceCommands, run_http_service_cli


def _listen(config: ConsoleConfig) -> tuple[str, int]:
    return config.console.host, config.console.httpPort


COMMANDS = HttpServiceCommands("console", ConsoleConfig, build_app, _listen, serve_help="run the console HTTP server")


def main(argv: list[str] | None = None) -> int:
    return run_http_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
