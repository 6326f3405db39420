"""``aloft-admin [--config FILE] serve|migrate|check-config``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aloft_admin.config import AdminConfig
from aloft_config import load_config
from aloft_service.cli import run_cli
from aloft_service.logging import configure_logging
from aloft_service.runtime import serve_forever
from aloft_service.tracing import configure_tracing


def _load(args: argparse.Namespace) -> AdminConfig:
    return load_config(args.config, AdminConfig)


def _check(args: argparse.Namespace) -> int:
    _load(args)
    print("configuration is valid")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from aloft_admin.server import run_migrations

    config = _load(args)
    configure_logging(config.logger, "admin")
    run_migrations(config)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from aloft_admin.server import build_deps, build_service, run_migrations

    config = _load(args)
    configure_logging(config.logger, "admin")
    configure_tracing(config.otel, "admin")
    run_migrations(config)

    async def _run() -> None:
        deps = build_deps(config)
        await serve_forever(build_service(deps), config.admin)

    asyncio.run(_run())
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        "admin",
        {
            "serve": ("run the admin gRPC and HTTP servers (migrates first)", _serve),
            "migrate": ("apply database migrations and exit", _migrate),
            "check-config": ("validate the configuration and exit", _check),
        },
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
