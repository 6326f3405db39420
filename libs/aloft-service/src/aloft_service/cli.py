"""Common command-line shape for services: ``aloft-<svc> serve|migrate|check-config --config FILE``.

gRPC services with a database use ``run_service_cli``; HTTP-only services (no database) use ``run_http_service_cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel

from aloft_config import ConfigError, load_config, redact_text
from aloft_service.logging import LoggerConfig, configure_logging
from aloft_service.parent import die_with_parent_if_asked
from aloft_service.runtime import BindError, serve_http_forever
from aloft_service.tracing import OtelConfig, configure_tracing

Command = Callable[[argparse.Namespace], int]

log = logging.getLogger(__name__)

# The GIL hand-off interval while serving. Database drivers (aiosqlite) and blocking I/O hop to worker threads and
# back; when the event loop is busy, each hop waits for the loop thread to give up the GIL, 5 ms by default — a
# wait per SQL statement. 1 ms keeps those hops short at little cost to the loop.
SERVE_SWITCH_INTERVAL = 0.001


def run_cli(service: str, commands: dict[str, tuple[str, Command]], argv: Sequence[str] | None = None) -> int:
    die_with_parent_if_asked()  # started by `aloft up` or a shard manager: go when it goes
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
    except Exception:  # noqa: BLE001 - a crash keeps its traceback, never with a password in it (a bad DSN)
        print(redact_text(traceback.format_exc()), file=sys.stderr)
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


def config_commands(model: type[C]) -> tuple[Callable[[argparse.Namespace], C], Command]:
    """Loading the config named by ``--config``, and the ``check-config`` command built on it."""

    def load(args: argparse.Namespace) -> C:
        return load_config(args.config, model)

    def check(args: argparse.Namespace) -> int:
        load(args)
        print("configuration is valid")
        return 0

    return load, check


def run_service_cli(spec: ServiceCommands[C], argv: Sequence[str] | None = None) -> int:
    """``aloft-<svc> [--config FILE] serve|migrate|check-config``: serve migrates first, then runs until a signal."""

    load, check = config_commands(spec.config_model)

    def migrate(args: argparse.Namespace) -> int:
        config = load(args)
        configure_logging(cast(_ServiceConfig, config).logger, spec.name)
        spec.migrate(config)
        return 0

    def serve(args: argparse.Namespace) -> int:
        config = load(args)
        sections = cast(_ServiceConfig, config)
        configure_logging(sections.logger, spec.name)
        # Each start-up step is logged, so a start that stalls shows where.
        log.info("aloft-%s starting (pid %d, config %s)", spec.name, os.getpid(), args.config or "built-in defaults")
        configure_tracing(sections.otel, spec.name)
        log.info("%s: applying database migrations, if any", spec.name)
        spec.migrate(config)
        sys.setswitchinterval(SERVE_SWITCH_INTERVAL)
        log.info("%s: starting the server", spec.name)
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


@dataclass(frozen=True)
class HttpServiceCommands(Generic[C]):
    """What differs between HTTP-only services' CLIs: their config model, their ASGI app and where it listens."""

    name: str
    config_model: type[C]
    build_app: Callable[[C], Any]
    listen: Callable[[C], tuple[str, int]]
    serve_help: str


def run_http_service_cli(spec: HttpServiceCommands[C], argv: Sequence[str] | None = None) -> int:
    """``aloft-<svc> [--config FILE] serve|check-config``: serve runs the ASGI app until a signal."""

    load, check = config_commands(spec.config_model)

    def serve(args: argparse.Namespace) -> int:
        config = load(args)
        configure_logging(cast(_ServiceConfig, config).logger, spec.name)
        log.info("aloft-%s starting (pid %d, config %s)", spec.name, os.getpid(), args.config or "built-in defaults")
        host, port = spec.listen(config)
        asyncio.run(serve_http_forever(spec.build_app(config), host, port, spec.name))
        return 0

    return run_cli(
        spec.name,
        {"serve": (spec.serve_help, serve), "check-config": ("validate the configuration and exit", check)},
        argv,
    )
