"""``aloft-propeller [--config FILE] serve|manager|migrate|check-config``."""

from __future__ import annotations

import sys

from aloft_propeller.config import PropellerConfig
from aloft_service.cli import ServiceCommands, run_service_cli


def _migrate(config: PropellerConfig) -> None:
    from aloft_propeller.server import run_migrations

    run_migrations(config)


async def _serve(config: PropellerConfig) -> None:
    from aloft_propeller.server import build_deps, build_service, listen_config
    from aloft_service.runtime import serve_forever

    await serve_forever(build_service(build_deps(config)), listen_config(config))


def _manager(config: PropellerConfig, config_path: str | None) -> int:
    from aloft_propeller.shardmanager.server import run_manager

    return run_manager(config, config_path)


COMMANDS = ServiceCommands(
    name="propeller",
    config_model=PropellerConfig,
    migrate=_migrate,
    serve=_serve,
    serve_help="run the data-plane API and the controller (migrates first)",
    migrate_help="apply workflow-store migrations and exit",
    extra={"manager": ("start and supervise the shards of manager.shard (flytepropeller-manager)", _manager)},
)


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
