"""``aloft-admin [--config FILE] serve|migrate|check-config|clusterresource-sync|clusterresource-run|hash-secret|
rotate-signing-key``."""

from __future__ import annotations

import gc
import sys

from aloft_admin.config import AdminConfig
from aloft_service.cli import ServiceCommands, run_service_cli


def _migrate(config: AdminConfig) -> None:
    from aloft_admin.server import run_migrations

    run_migrations(config)


async def _serve(config: AdminConfig) -> None:
    from aloft_admin.server import build_deps, build_service
    from aloft_service.runtime import serve_forever

    service = build_service(build_deps(config))
    # What start-up made (modules, config, deps) lives as long as the process: frozen, the collector's full passes
    # stop scanning it again and again (about 5 % of admin's CPU per CreateExecution, py-spy and gc.callbacks).
    gc.collect()
    gc.freeze()
    await serve_forever(service, config.admin)


def _hash_secret(config: AdminConfig, config_path: str | None) -> int:
    """Read a client secret on stdin, print its bcrypt hash (for auth...staticClients.<id>.client_secret)."""
    import bcrypt

    secret = sys.stdin.readline().rstrip("\n")
    if not secret:
        print("aloft-admin hash-secret: give the secret on standard input", file=sys.stderr)
        return 2
    print(bcrypt.hashpw(secret.encode(), bcrypt.gensalt()).decode())
    return 0


def _rotate_signing_key(config: AdminConfig, config_path: str | None) -> int:
    """Make a new token signing key; the current one becomes the old key (still verifies until restart + expiry)."""
    import getpass

    from aloft_auth.audit import AuditLog

    from aloft_admin.auth.keys import rotate_signing_keys
    from aloft_service.logging import configure_logging

    configure_logging(config.logger, "admin")  # the audit line of the rotation
    server = config.auth.appAuth.selfAuthServer
    keys = rotate_signing_keys(
        server.tokenSigningRSAKeyFile, server.oldTokenSigningRSAKeyFile, config.stack.data_path()
    )
    old = keys.old.kid if keys.old is not None else "none"
    AuditLog().configuration_change("signing_key.rotate", f"cli:{getpass.getuser()}", "", f"kid={keys.current.kid}")
    print(f"new signing key {keys.current.kid} (old key {old} still verifies); restart admin to use it")
    return 0


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
        "hash-secret": ("print the bcrypt hash of the client secret read on stdin", _hash_secret),
        "rotate-signing-key": ("rotate the token signing key of admin's authorization server", _rotate_signing_key),
    },
)


def main(argv: list[str] | None = None) -> int:
    return run_service_cli(COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
