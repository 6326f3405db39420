"""``aloft-datacatalog [--config FILE] serve|migrate|check-config``."""

from __future__ import annotations

import sys

from aloft_datacatalog.config import DatacatalogConfig
from aloft_service.cli import ServiceCommands, run_service_cli


def _migrate(config: DatacatalogConfig) -> None:
    from aloft_datacatalog.server import run_migrations

    run_migrations(config)


async def _serve(config: DatacatalogConfig) -> None:
    from aloft_datacatalog.server import build_deps, build_service
    from aloft_service.runtime import serve_forever

    await serve_forever(build_service(build_deps(config)), config.datacatalog)


COMMANDS = ServiceCommands(
    name="datacatalog",
    config_model=DatacatalogConfig,
    migrate=_migrate,
    serve=_serve,
    serve_help="run the datacatalog gRPC and HTTP servers (migrates first)",
)


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
