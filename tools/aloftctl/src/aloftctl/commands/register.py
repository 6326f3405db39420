"""``aloftctl register files``: register `pyflyte package` archives or serialized specs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from aloftctl import registration
from aloftctl.client import CommandError
from aloftctl.output import Column, render
from aloftctl.session import AliasedGroup, common_options, session


@click.group(cls=AliasedGroup)
def register() -> None:
    """Register tasks, workflows and launch plans."""


RESULT_COLUMNS = (
    Column("Name", lambda r: r[0]),
    Column("Status", lambda r: r[1]),
    Column("Additional Info", lambda r: r[2]),
)


@register.command("files")
@click.argument("paths", nargs=-1, required=True)
@click.option("--archive", is_flag=True, help="the arguments are archives (.tgz/.tar.gz/.tar) from `pyflyte package`")
@click.option("--version", default="v1", show_default=True, help="version for every registered entity")
@click.option("--force", is_flag=True, help="use --version even where the spec carries its own")
@click.option("--continueOnError", "continue_on_error", is_flag=True, help="register the rest after a failure")
@click.option("--dryRun", "dry_run", is_flag=True, help="read and hydrate the specs without registering")
@click.option("--destinationDirectory", "destination_dir", default="", help="where the code is unpacked in tasks")
@click.option("--k8sServiceAccount", "service_account", default="", help="service account for launch plans")
@click.option("--outputLocationPrefix", "output_prefix", default="", help="raw output prefix for launch plans")
@common_options
def register_files(
    paths: tuple[str, ...],
    archive: bool,
    version: str,
    force: bool,
    continue_on_error: bool,
    dry_run: bool,
    destination_dir: str,
    service_account: str,
    output_prefix: str,
) -> None:
    """Register serialized specs: `pyflyte package -o pkg.tgz`, then `register files pkg.tgz --archive --version v1`."""
    current = session()
    project, domain = current.require_project_domain()
    target = registration.Target(project, domain, version, force, destination_dir, service_account, output_prefix)
    results: list[tuple[str, str, str]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="aloftctl-register-") as workdir:
        specs, source = registration.collect(list(paths), archive, Path(workdir))
        source_url = ""
        if source is not None and not dry_run:
            source_url = registration.upload_source(current.client, target, source)
            results.append((source.name, "Success", f"uploaded to {source_url}"))
        for path in specs:
            message = registration.load(path)
            registration.hydrate(message, target, registration.REMOTE_PACKAGE_PATTERN if dry_run else source_url)
            if dry_run:
                results.append((path.name, "Success", "dry run: not registered"))
                continue
            try:
                kind, name = registration.register(current.client, message)
            except CommandError as exc:
                failed = True
                results.append((path.name, "Failed", str(exc)))
                if not continue_on_error:
                    break
                continue
            results.append((name, "Success", f"registered {kind} version {version}"))
    render(results, RESULT_COLUMNS, "table")  # type: ignore[arg-type]
    if failed:
        raise CommandError("registration failed (see the table above)")
