"""Common command-line shape for services: ``aloft-<svc> serve|migrate|check-config --config FILE``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel

from aloft_config import ConfigError, load_config
from aloft_service.logging import LoggerConfig, configure_logging
from aloft_service.runtime import BindError
from aloft_service.tracing import OtelConfig, configure_tracing

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


class _ServiceConfig(Protocol):
    @property
    def logger(self) -> LoggerConfig: ...

    @property
    def otel(self) -> OtelConfig: ...


C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class ServiceCommands(Generic[C]):
    """What differs between services' CLIs: their config model, how they migrate, and how they serve.

    ``migrate`` and ``serve`` import the service's server module lazily so ``check-config`` stays light.
    """

    name: str
    config_model: type[C]
    migrate: Callable[[C], None]
    serve: Callable[[C], Coroutine[Any, Any, None]]
    serve_help: str
    migrate_help: str = "apply database migrations and exit"
    # More subcommands: name -> (help, run(config, config_path) -> exit code), e.g. propeller's ``manager``.
    extra: dict[str, tuple[str, Callable[[C, str | None], int]]] = field(default_factory=dict)


def run_service_cli(spec: ServiceCommands[C], argv: Sequence[str] | None = None) -> int:
    """``aloft-<svc> [--config FILE] serve|migrate|check-config``: serve migrates first, then runs until a signal."""

    def load(args: argparse.Namespace) -> C:
        return load_config(args.config, spec.config_model)

    def check(args: argparse.Namespace) -> int:
        load(args)
        print("configuration is valid")
        return 0

    def migrate(args: argparse.Namespace) -> int:
        config = load(args)
        configure_logging(cast(_ServiceConfig, config).logger, spec.name)
        spec.migrate(config)
        return 0

    def serve(args: argparse.Namespace) -> int:
        config = load(args)
        sections = cast(_ServiceConfig, config)
        configure_logging(sections.logger, spec.name)
        configure_tracing(sections.otel, spec.name)
        spec.migrate(config)
        asyncio.run(spec.serve(config))
        return 0

    return run_cli(
        spec.name,
        {
            "serve": (spec.serve_help, serve),
            "migrate": (spec.migrate_help, migrate),
            "check-config": ("validate the configuration and exit", check),
            **{name: (text, _with_config(load, run)) for name, (text, run) in spec.extra.items()},
        },
        argv,
    )


def _with_config(
    load: Callable[[argparse.Namespace], C], run: Callable[[C, str | None], int]
) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        return run(load(args), args.config)

    return command
