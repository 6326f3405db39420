"""``aloftctl get <noun>``: projects, tasks, workflows, launch plans, executions, matchable attributes."""

from __future__ import annotations

import sys

import click
from flyteidl.admin import execution_pb2, launch_plan_pb2, project_pb2, schedule_pb2

from aloftctl import attributes as attrs
from aloftctl import entities, execfile, executions, graph
from aloftctl.client import CommandError
from aloftctl.filters import ListOptions
from aloftctl.output import (
    Column,
    console,
    dump,
    parameter_names,
    render,
    timestamp,
    to_dict,
    truncate,
    variable_names,
)
from aloftctl.session import AliasedGroup, common_options, filter_options, session

VERSION_HELP = "a version, 'latest', or 'all' (default: all versions of NAME)"


@click.group(cls=AliasedGroup)
def get() -> None:
    """Show resources (table by default; -o yaml|json prints them in full)."""


# --- projects ----------------------------------------------------------------------------------------------------

PROJECT_COLUMNS = (
    Column("ID", lambda p: p.id),
    Column("Name", lambda p: p.name),
    Column("Description", lambda p: truncate(p.description, 60), max_width=60),
    Column("State", lambda p: project_pb2.Project.ProjectState.Name(p.state)),
)


@get.command("project")
@click.argument("name", required=False)
@common_options
@filter_options
def get_project(name: str | None, list_options: ListOptions) -> None:
    """Projects, or one project by ID (also: -p ID)."""
    current = session()
    client = current.client
    project_id = name or current.project_flag
    if project_id:
        project = client.call(client.admin.GetProject, project_pb2.ProjectGetRequest(id=project_id))
        render([project], PROJECT_COLUMNS, current.output, single=True)
        return
    request = project_pb2.ProjectListRequest(
        limit=list_options.limit, token=list_options.token, filters=list_options.filters, sort_by=list_options.sort()
    )
    render(list(client.call(client.admin.ListProjects, request).projects), PROJECT_COLUMNS, current.output)


# --- tasks / workflows / launch plans -------------------------------------------------------------------------

TASK_COLUMNS = (
    Column("Version", lambda t: t.id.version),
    Column("Name", lambda t: t.id.name),
    Column("Type", lambda t: t.closure.compiled_task.template.type),
    Column("Inputs", lambda t: variable_names(t.closure.compiled_task.template.interface.inputs), max_width=40),
    Column("Outputs", lambda t: variable_names(t.closure.compiled_task.template.interface.outputs), max_width=40),
    Column("Created At", lambda t: timestamp(t.closure.created_at)),
)
WORKFLOW_COLUMNS = (
    Column("Version", lambda w: w.id.version),
    Column("Name", lambda w: w.id.name),
    Column("Inputs", lambda w: variable_names(w.closure.compiled_workflow.primary.template.interface.inputs)),
    Column("Outputs", lambda w: variable_names(w.closure.compiled_workflow.primary.template.interface.outputs)),
    Column("Created At", lambda w: timestamp(w.closure.created_at)),
)
LAUNCH_PLAN_COLUMNS = (
    Column("Version", lambda lp: lp.id.version),
    Column("Name", lambda lp: lp.id.name),
    Column("State", lambda lp: launch_plan_pb2.LaunchPlanState.Name(lp.closure.state)),
    Column("Schedule", lambda lp: _schedule(lp)),
    Column("Inputs", lambda lp: parameter_names(lp.spec.default_inputs), max_width=40),
    Column("Outputs", lambda lp: variable_names(lp.closure.expected_outputs), max_width=40),
    Column("Created At", lambda lp: timestamp(lp.closure.created_at)),
)


def _schedule(launch_plan: launch_plan_pb2.LaunchPlan) -> str:
    schedule = launch_plan.spec.entity_metadata.schedule
    which = schedule.WhichOneof("ScheduleExpression")
    if which == "cron_schedule":
        return schedule.cron_schedule.schedule
    if which == "rate":
        return f"every {schedule.rate.value} {schedule_pb2.FixedRateUnit.Name(schedule.rate.unit).lower()}"
    return schedule.cron_expression if which == "cron_expression" else ""


def _entity_command(kind: entities.EntityKind, columns: tuple[Column, ...], supports_exec_file: bool) -> click.Command:
    @click.argument("name", required=False)
    @click.option("--version", default="", help=VERSION_HELP)
    @click.option("--latest", is_flag=True, help="only the latest version of NAME")
    @common_options
    @filter_options
    def command(name: str | None, version: str, latest: bool, list_options: ListOptions, **extra: str) -> None:
        current = session()
        project, domain = current.require_project_domain()
        if latest:
            version = "latest"
        exec_file = extra.get("exec_file") or ""
        if exec_file and not name:
            raise CommandError(f"--execFile needs the {kind.noun} NAME")
        if exec_file:
            entity = entities.fetch_one(current.client, kind, project, domain, name or "", version)
            spec = execfile.from_task(entity) if kind is entities.TASK else execfile.from_launch_plan(entity)
            execfile.write(exec_file, spec)
            print(f"wrote execution spec for {kind.noun} {entity.id.name} version {entity.id.version} to {exec_file}")
            return
        if current.output == "dot":
            if kind is not entities.WORKFLOW or not name:
                raise CommandError("-o dot needs a workflow NAME (get workflow NAME [--version V] -o dot)")
            print(graph.to_dot(entities.fetch_one(current.client, kind, project, domain, name, version)))
            return
        items, single = entities.fetch(current.client, kind, project, domain, name or "", version, list_options)
        if name and not items:
            raise CommandError(f"no {kind.noun} named {name} in {project}/{domain}")
        render(items, columns, current.output, single=single)

    if supports_exec_file:
        command = click.option(
            "--execFile", "exec_file", default="", help="write an execution spec for `create execution --execFile`"
        )(command)
    noun = {"task": "Tasks", "workflow": "Workflows", "launchplan": "Launch plans"}[kind.noun]
    command.__doc__ = f"{noun} in a project/domain; NAME shows its versions (--version V, latest, all)."
    return click.command(kind.noun)(command)


get.add_command_with_aliases(_entity_command(entities.TASK, TASK_COLUMNS, True), "tasks")
get.add_command_with_aliases(_entity_command(entities.WORKFLOW, WORKFLOW_COLUMNS, False), "workflows")
get.add_command_with_aliases(
    _entity_command(entities.LAUNCH_PLAN, LAUNCH_PLAN_COLUMNS, True), "launchplans", "launch-plan", "lp"
)
get.aliases.update({"projects": "project"})


# --- executions --------------------------------------------------------------------------------------------------


@get.command("execution")
@click.argument("name", required=False)
@click.option("--details", is_flag=True, help="the node tree: phases, durations, attempts, cache status, errors")
@click.option("--watch", is_flag=True, help="follow the execution until it ends (exit 0 only if it succeeded)")
@click.option("--nodeID", "node_id", default="", help="only this node's task executions (attempts)")
@common_options
@filter_options
def get_execution(name: str | None, details: bool, watch: bool, node_id: str, list_options: ListOptions) -> None:
    """Executions in a project/domain, or one by NAME (-o yaml shows everything, errors and nodeExecutions)."""
    current = session()
    client = current.client
    if not name:
        if details or watch:
            raise CommandError("--details and --watch need an execution NAME")
        project, domain = current.require_project_domain()
        request = list_options.resource_list_request(project, domain)
        listed = client.call(client.admin.ListExecutions, request).executions
        render(list(listed), executions.EXECUTION_COLUMNS, current.output)
        return
    execution = _find_execution(name)
    if watch:
        final = executions.watch(client, execution.id.project, execution.id.domain, name)
        sys.exit(0 if final.closure.phase == executions.WF_PHASE.SUCCEEDED else 1)
    if node_id:
        views = [v for v in executions.node_tree(client, execution.id) if v.node.id.node_id == node_id]
        if not views:
            raise CommandError(f"execution {name} has no node {node_id}")
        print(dump([to_dict(attempt) for attempt in views[0].attempts], "json" if current.output == "json" else "yaml"))
        return
    if current.output in ("yaml", "json"):
        print(dump(executions.full_document(client, execution), current.output))
        return
    if details:
        console().print(executions.render_tree(execution, executions.node_tree(client, execution.id)))
        return
    render([execution], executions.EXECUTION_COLUMNS, current.output, single=True)


def _find_execution(name: str) -> execution_pb2.Execution:
    """flytectl needs -p/-d; without them (``get execution exec-id -o yaml``) every project/domain is searched."""
    current = session()
    client = current.client
    if current.project and current.domain:
        return executions.get(client, current.project, current.domain, name)
    projects = [current.project] if current.project else _project_ids()
    for project in projects:
        domains = [current.domain] if current.domain else _domain_ids()
        for domain in domains:
            try:
                return executions.get(client, project, domain, name)
            except CommandError as exc:
                if "NOT_FOUND" not in str(exc):
                    raise
    raise CommandError(f"no execution named {name} in any project/domain (pass -p and -d)")


def _project_ids() -> list[str]:
    client = session().client
    reply = client.call(client.admin.ListProjects, project_pb2.ProjectListRequest(limit=500))
    return [project.id for project in reply.projects]


def _domain_ids() -> list[str]:
    client = session().client
    return [domain.id for domain in client.call(client.admin.GetDomains, project_pb2.GetDomainRequest()).domains]


get.aliases.update({"executions": "execution"})


# --- matchable attributes -----------------------------------------------------------------------------------------


def _attribute_command(kind: attrs.AttributeKind) -> click.Command:
    @click.argument("workflow", required=False)
    @click.option("--attrFile", "attr_file", default="", help="write the attribute to this file (update's format)")
    @common_options
    def command(workflow: str | None, attr_file: str) -> None:
        current = session()
        if not current.project:
            raise CommandError("-p/--project is required")
        scope = attrs.Scope(current.project, current.domain, workflow or "")
        message = attrs.fetch(current.client, kind, scope)
        document = attrs.as_file_document(scope, message)
        if attr_file:
            with open(attr_file, "w") as handle:
                handle.write(dump(document, "yaml") + "\n")
            print(f"wrote {kind.noun} of {scope.describe()} to {attr_file}")
            return
        print(dump(document, "json" if current.output == "json" else "yaml"))

    command.__doc__ = (
        f"The {kind.noun} of a project, project/domain (-p -d) or workflow (-p -d WORKFLOW), in attrFile format."
    )
    return click.command(kind.noun)(command)


for _kind in attrs.KINDS.values():
    get.add_command_with_aliases(_attribute_command(_kind), _kind.noun + "s")
