"""``aloft-propeller [--config FILE] serve|migrate|check-config``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aloft_config import load_config
from aloft_propeller.config import PropellerConfig
from aloft_service.cli import run_cli
from aloft_service.logging import configure_logging
from aloft_service.runtime import serve_forever
from aloft_service.tracing import configure_tracing


def _load(args: argparse.Namespace) -> PropellerConfig:
    return load_config(args.config, PropellerConfig)


def _check(args: argparse.Namespace) -> int:
    _load(args)
    print("configuration is valid")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from aloft_propeller.server import run_migrations

    config = _load(args)
    configure_logging(config.logger, "propeller")
    run_migrations(config)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from aloft_propeller.server import build_deps, build_service, listen_config, run_migrations

    config = _load(args)
    configure_logging(config.logger, "propeller")
    configure_tracing(config.otel, "propeller")
    run_migrations(config)

    async def _run() -> None:
        deps = build_deps(config)
        await serve_forever(build_service(deps), listen_config(config))

    asyncio.run(_run())
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        "propeller",
        {
            "serve": ("run the data-plane API and the controller (migrates first)", _serve),
            "migrate": ("apply workflow-store migrations and exit", _migrate),
            "check-config": ("validate the configuration and exit", _check),
        },
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
