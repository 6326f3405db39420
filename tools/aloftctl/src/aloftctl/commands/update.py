"""``aloftctl update``: project state, execution archive, launch plan activation, entity metadata, attributes."""

from __future__ import annotations

import click
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, project_pb2

from aloftctl import attributes as attrs
from aloftctl import entities, executions
from aloftctl.client import CommandError
from aloftctl.session import AliasedGroup, common_options, session


@click.group(cls=AliasedGroup)
def update() -> None:
    """Change projects, executions, launch plans, task/workflow metadata and matchable attributes."""


def _one_of(first: bool, second: bool, names: str) -> None:
    if first and second:
        raise CommandError(f"{names} cannot be used together")


@update.command("project")
@click.argument("project_id", required=False)
@click.option("--archive", is_flag=True, help="archive the project")
@click.option("--activate", is_flag=True, help="activate an archived project")
@click.option("--name", default="", help="new display name")
@click.option("--description", default="", help="new description")
@common_options
def update_project(project_id: str | None, archive: bool, activate: bool, name: str, description: str) -> None:
    """Archive/activate a project or change its name and description (-p ID or ID)."""
    _one_of(archive, activate, "--archive and --activate")
    current = session()
    client = current.client
    project_id = project_id or current.project_flag
    if not project_id:
        raise CommandError("which project? pass -p ID")
    project = client.call(client.admin.GetProject, project_pb2.ProjectGetRequest(id=project_id))
    project.ClearField("domains")  # admin sets domains system-wide and refuses updates that carry them
    if archive:
        project.state = project_pb2.Project.ARCHIVED
    if activate:
        project.state = project_pb2.Project.ACTIVE
    if name:
        project.name = name
    if description:
        project.description = description
    client.call(client.admin.UpdateProject, project)
    print(f"project {project_id} updated (state {project_pb2.Project.ProjectState.Name(project.state)})")


@update.command("execution")
@click.argument("name")
@click.option("--archive", is_flag=True, help="archive the execution (hide it from lists and the console)")
@click.option("--activate", is_flag=True, help="un-archive the execution")
@common_options
def update_execution(name: str, archive: bool, activate: bool) -> None:
    """Archive or activate an execution (-p -d NAME --archive)."""
    _one_of(archive, activate, "--archive and --activate")
    if not archive and not activate:
        raise CommandError("pass --archive or --activate")
    current = session()
    project, domain = current.require_project_domain()
    state = execution_pb2.EXECUTION_ARCHIVED if archive else execution_pb2.EXECUTION_ACTIVE
    request = execution_pb2.ExecutionUpdateRequest(id=executions.execution_id(project, domain, name), state=state)
    current.client.call(current.client.admin.UpdateExecution, request)
    print(f"updated execution {name}: {'archived' if archive else 'activated'}")


@update.command("launchplan")
@click.argument("name", required=False)
@click.option("--name", "name_option", default="", help="launch plan name (or as the argument)")
@click.option("--version", default="", help="launch plan version (default: the latest)")
@click.option("--activate", is_flag=True, help="make this version the active one (starts its schedule)")
@click.option("--deactivate", "--archive", "deactivate", is_flag=True, help="deactivate it (stops its schedule)")
@common_options
def update_launchplan(name: str | None, name_option: str, version: str, activate: bool, deactivate: bool) -> None:
    """Activate or deactivate a launch plan version."""
    _one_of(activate, deactivate, "--activate and --deactivate")
    if not activate and not deactivate:
        raise CommandError("pass --activate or --deactivate")
    current = session()
    project, domain = current.require_project_domain()
    plan_name = name or name_option
    if not plan_name:
        raise CommandError("which launch plan? pass NAME or --name")
    plan = entities.fetch_one(current.client, entities.LAUNCH_PLAN, project, domain, plan_name, version)
    state = launch_plan_pb2.ACTIVE if activate else launch_plan_pb2.INACTIVE
    request = launch_plan_pb2.LaunchPlanUpdateRequest(id=plan.id, state=state)
    current.client.call(current.client.admin.UpdateLaunchPlan, request)
    print(f"updated launch plan {plan_name} version {plan.id.version}: {'activated' if activate else 'deactivated'}")


def _entity_meta_command(kind: entities.EntityKind, noun: str) -> click.Command:
    @click.argument("name")
    @click.option("--description", default=None, help="new description")
    @click.option("--archive", is_flag=True, help="archive (hide from lists)")
    @click.option("--activate", is_flag=True, help="activate")
    @common_options
    def command(name: str, description: str | None, archive: bool, activate: bool) -> None:
        _one_of(archive, activate, "--archive and --activate")
        current = session()
        project, domain = current.require_project_domain()
        client = current.client
        entity_id = common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name)
        existing = client.call(
            client.admin.GetNamedEntity,
            common_pb2.NamedEntityGetRequest(resource_type=kind.resource_type, id=entity_id),
        )
        metadata = existing.metadata
        if description is not None:
            metadata.description = description
        if archive:
            metadata.state = common_pb2.NAMED_ENTITY_ARCHIVED
        if activate:
            metadata.state = common_pb2.NAMED_ENTITY_ACTIVE
        request = common_pb2.NamedEntityUpdateRequest(resource_type=kind.resource_type, id=entity_id, metadata=metadata)
        client.call(client.admin.UpdateNamedEntity, request)
        print(f"updated {kind.noun} {name} metadata")

    command.__doc__ = f"Change a {kind.noun}'s description, or archive/activate it (flytectl {noun})."
    return click.command(noun)(command)


update.add_command_with_aliases(_entity_meta_command(entities.TASK, "task-meta"), "task", "tasks")
update.add_command_with_aliases(_entity_meta_command(entities.WORKFLOW, "workflow-meta"), "workflow", "workflows")
update.add_command_with_aliases(
    _entity_meta_command(entities.LAUNCH_PLAN, "launchplan-meta"), "launchplan-metas", "launch-plan-meta"
)


def _attribute_command(kind: attrs.AttributeKind) -> click.Command:
    @click.argument("workflow", required=False)
    @click.option("--attrFile", "attr_file", default="", help="YAML attribute file (see the example in --help)")
    @common_options
    def command(workflow: str | None, attr_file: str, value: str = "") -> None:
        current = session()
        if attr_file:
            document = attrs.read_attr_file(attr_file)
            source = attr_file
        elif value:
            document, source = {"value": value}, "--value"
        else:
            raise CommandError(f"pass --attrFile FILE, e.g. a file with\n{kind.example}")
        scope, body = attrs.split_scope(document, current.project, current.domain, workflow or "", source)
        message = kind.parse(body, source)
        attrs.update(current.client, kind, scope, message)
        print(f"updated {kind.noun} for {scope.describe()}")

    command.__doc__ = (
        f"Set the {kind.noun} of a project, project/domain or workflow from --attrFile, e.g.\n\n"
        f"\b\nproject: my-project\ndomain: development\n{kind.example}"
    )
    if kind.noun == "execution-cluster-label":
        command = click.option("--value", default="", help="the label (instead of an --attrFile)")(command)
    return click.command(kind.noun)(command)


for _kind in attrs.KINDS.values():
    update.add_command_with_aliases(_attribute_command(_kind), _kind.noun + "s")
update.aliases.update(
    {"projects": "project", "executions": "execution", "launchplans": "launchplan", "lp": "launchplan"}
)
