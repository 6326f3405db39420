"""``aloft-admin [--config FILE] serve|migrate|check-config|clusterresource-sync|clusterresource-run``."""

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


def _cluster_resources(config: AdminConfig, passes: int | None) -> int:
    from aloft_admin.clusterresource import SyncError, build_controller
    from aloft_service.logging import configure_logging

    configure_logging(config.logger, "admin")
    controller = build_controller(config)
    if passes is None:
        controller.run()
        return 0
    try:
        controller.sync()
    except SyncError as exc:
        print(f"aloft-admin: cluster resource sync failed: {exc}", file=sys.stderr)
        return 1
    return 0


COMMANDS = ServiceCommands(
    name="admin",
    config_model=AdminConfig,
    migrate=_migrate,
    serve=_serve,
    serve_help="run the admin gRPC and HTTP servers (migrates first)",
    extra={
        "clusterresource-sync": (
            "apply the cluster_resources templates to every data plane's Kubernetes API once and exit",
            lambda config, _path: _cluster_resources(config, 1),
        ),
        "clusterresource-run": (
            "apply the cluster_resources templates every cluster_resources.refreshInterval",
            lambda config, _path: _cluster_resources(config, None),
        ),
    },
)


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
