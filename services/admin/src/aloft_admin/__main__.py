"""``aloft-admin [--config FILE] serve|migrate|check-config``."""

from __future__ import annotations

import sys

from aloft_admin.config import AdminConfig
from aloft_service.cli import ServiceCommands, run_service_cli


def _migrate(config: AdminConfig) -> None:
    from aloft_admin.server import run_migrations

    run_migrations(config)


async def _serve(config: AdminConfig) -> None:
    from aloft_admin.server import build_deps, build_service
    from aloft_service.runtime import serve_forever

    await serve_forever(build_service(build_deps(config)), config.admin)


COMMANDS = ServiceCommands(
    name="admin",
    config_model=AdminConfig,
    migrate=_migrate,
    serve=_serve,
    serve_help="run the admin gRPC and HTTP servers (migrates first)",
)


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
