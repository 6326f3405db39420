"""``aloftctl config init|validate|discover``: flytectl's config file."""

from __future__ import annotations

from pathlib import Path

import click
from flyteidl.admin import version_pb2

from aloftctl import config as config_module
from aloftctl.client import CommandError
from aloftctl.session import AliasedGroup, session


@click.group("config", cls=AliasedGroup)
def config_group() -> None:
    """Write, show and check the client configuration (~/.flyte/config.yaml)."""


@config_group.command("init")
@click.option(
    "--host", default="localhost:8089", show_default=True, help="admin endpoint (host:port, dns:///…, https://…)"
)
@click.option("--insecure/--secure", default=None, help="plaintext gRPC (default: on for localhost)")
@click.option("--file", "file_", default="", help="where to write (default: ~/.flyte/config.yaml)")
@click.option("--force", is_flag=True, help="overwrite an existing file")
def config_init(host: str, insecure: bool | None, file_: str, force: bool) -> None:
    """Write a config file for an admin endpoint (flytectl config init --host localhost:8089)."""
    path = Path(file_).expanduser() if file_ else config_module.default_config_path()
    if path.exists() and not force:
        raise CommandError(f"{path} already exists (pass --force to overwrite)")
    try:
        text = config_module.init_config_text(host, insecure)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(f"wrote {path}:\n{text}", end="")


@config_group.command("discover")
@click.option("-c", "--config", "config_file", default=None, help="config file")
def config_discover(config_file: str | None) -> None:
    """Show which config is used and what it resolves to."""
    current = session()
    current.config_file = config_file or current.config_file
    cfg = current.config
    print(f"source:   {cfg.source}\nendpoint: {cfg.endpoint} (gRPC target {cfg.target})\ninsecure: {cfg.insecure}")
    if cfg.auth_type:
        print(f"authType: {cfg.auth_type}")


@config_group.command("validate")
@click.option("-c", "--config", "config_file", default=None, help="config file")
def config_validate(config_file: str | None) -> None:
    """Check the config and that admin answers at its endpoint."""
    current = session()
    current.config_file = config_file or current.config_file
    client = current.client
    reply = client.call(client.admin.GetVersion, version_pb2.GetVersionRequest())
    build = reply.control_plane_version
    print(f"admin at {current.config.target} answers: version {build.Version or 'unknown'} ({build.Build or '-'})")
