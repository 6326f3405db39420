"""Common command-line shape for services: ``aloft-<svc> serve|migrate|check-config --config FILE``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from aloft_config import ConfigError
from aloft_service.runtime import BindError

Command = Callable[[argparse.Namespace], int]


def run_cli(service: str, commands: dict[str, tuple[str, Command]], argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"aloft-{service}")
    parser.add_argument(
        "--config",
        default=os.environ.get("ALOFT_CONFIG"),
        help="path to the Aloft YAML config (default: $ALOFT_CONFIG; built-in defaults when unset)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in commands.items():
        sub.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    try:
        return commands[args.command][1](args)
    except ConfigError as exc:
        print(f"aloft-{service}: {exc}", file=sys.stderr)
        return 2
    except BindError as exc:  # an operational condition, not a bug: one clear line, no traceback
        print(f"aloft-{service}: {exc}", file=sys.stderr)
        return 1
