"""``aloft-scheduler [--config FILE] serve|migrate|check-config``."""

from __future__ import annotations

import sys

from aloft_scheduler.config import SchedulerConfig
from aloft_service.cli import ServiceCommands, run_service_cli


def _migrate(config: SchedulerConfig) -> None:
    """Nothing to migrate: the scheduler keeps no state of its own (admin's executions are its record)."""


async def _serve(config: SchedulerConfig) -> None:
    from aloft_scheduler.server import build_service
    from aloft_service.runtime import serve_forever

    await serve_forever(build_service(config), config.scheduler)


COMMANDS = ServiceCommands(
    name="scheduler",
    config_model=SchedulerConfig,
    migrate=_migrate,
    serve=_serve,
    serve_help="run the scheduler: fire executions of ACTIVE scheduled launch plans through admin",
    migrate_help="no-op (the scheduler has no database); kept so every service has the same commands",
)


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
