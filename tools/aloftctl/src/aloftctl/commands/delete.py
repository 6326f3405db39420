"""``aloftctl delete``: terminate executions, remove matchable attributes."""

from __future__ import annotations

import click
from flyteidl.admin import execution_pb2

from aloftctl import attributes as attrs
from aloftctl import executions
from aloftctl.client import CommandError
from aloftctl.session import AliasedGroup, common_options, session


@click.group(cls=AliasedGroup)
def delete() -> None:
    """Terminate executions and delete matchable attributes."""


@delete.command("execution")
@click.argument("names", nargs=-1, required=True)
@click.option("--cause", default="terminated by aloftctl", show_default=True, help="recorded as the abort cause")
@common_options
def delete_execution(names: tuple[str, ...], cause: str) -> None:
    """Terminate running executions (flytectl's delete execution)."""
    current = session()
    project, domain = current.require_project_domain()
    failed = 0
    for name in names:
        request = execution_pb2.ExecutionTerminateRequest(
            id=executions.execution_id(project, domain, name), cause=cause
        )
        try:
            current.client.call(current.client.admin.TerminateExecution, request)
        except CommandError as exc:
            failed += 1
            click.echo(f"could not terminate {name}: {exc}", err=True)
            continue
        print(f"terminated execution {name}")
    if failed:
        raise CommandError(f"{failed} of {len(names)} execution(s) not terminated")


def _attribute_command(kind: attrs.AttributeKind) -> click.Command:
    @click.argument("workflow", required=False)
    @click.option("--attrFile", "attr_file", default="", help="take project/domain/workflow from this file")
    @common_options
    def command(workflow: str | None, attr_file: str) -> None:
        current = session()
        document = attrs.read_attr_file(attr_file) if attr_file else {}
        scope, _ = attrs.split_scope(document, current.project, current.domain, workflow or "", attr_file or "flags")
        attrs.delete(current.client, kind, scope)
        print(f"deleted {kind.noun} of {scope.describe()}")

    command.__doc__ = f"Delete the {kind.noun} of a project, project/domain (-p -d) or workflow (-p -d WORKFLOW)."
    return click.command(kind.noun)(command)


for _kind in attrs.KINDS.values():
    delete.add_command_with_aliases(_attribute_command(_kind), _kind.noun + "s")
delete.aliases.update({"executions": "execution"})
