"""``aloftctl create project|execution``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from flyteidl.admin import cluster_assignment_pb2, common_pb2, execution_pb2, matchable_resource_pb2, project_pb2
from flyteidl.core import identifier_pb2, security_pb2

from aloftctl import entities, execfile, executions
from aloftctl.client import CommandError
from aloftctl.literals import InputError, to_literal_map
from aloftctl.output import dump, to_dict
from aloftctl.session import AliasedGroup, common_options, session


@click.group(cls=AliasedGroup)
def create() -> None:
    """Create projects and executions."""


@create.command("project")
@click.option("--id", "project_id", default="", help="project id (unique, lowercase)")
@click.option("--name", default="", help="display name (default: the id)")
@click.option("--description", default="", help="what the project is for")
@click.option("--labels", multiple=True, help="key=value, repeatable")
@click.option("--file", "file_", default="", help="a YAML file with id, name, description, labels")
@common_options
def create_project(project_id: str, name: str, description: str, labels: tuple[str, ...], file_: str) -> None:
    """Register a project (flytectl create project --id ID --name NAME)."""
    document: dict[str, Any] = {}
    if file_:
        try:
            document = yaml.safe_load(Path(file_).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"cannot read project file {file_}: {exc}") from exc
    project_id = project_id or str(document.get("id", "") or session().project_flag)
    if not project_id:
        raise CommandError("--id is required (the project's identifier)")
    label_values = dict(document.get("labels", {}) or {})
    for label in labels:
        key, sep, value = label.partition("=")
        if not sep:
            raise CommandError(f"--labels {label!r}: expected key=value")
        label_values[key] = value
    project = project_pb2.Project(
        id=project_id,
        name=name or str(document.get("name", "") or project_id),
        description=description or str(document.get("description", "") or ""),
        labels=common_pb2.Labels(values=label_values),
    )
    client = session().client
    client.call(client.admin.RegisterProject, project_pb2.ProjectRegisterRequest(project=project))
    print(f"project {project_id} registered successfully")


@create.command("execution")
@click.argument("name", required=False)
@click.option("--execFile", "exec_file", default="", help="execution spec from `get launchplan/task --execFile`")
@click.option("--task", default="", help="launch this task (a single-task execution) with default/zero inputs")
@click.option("--relaunch", default="", help="execution to relaunch with the same inputs")
@click.option("--recover", default="", help="failed execution to recover from its last known failure point")
@click.option("--version", default="", help="version of the launch plan/task (default: the execFile's, else latest)")
@click.option("--targetProject", "target_project", default="", help="project to run in (default: -p)")
@click.option("--targetDomain", "target_domain", default="", help="domain to run in (default: -d)")
@click.option("--targetExecutionCluster", "target_cluster", default="", help="execution cluster label")
@click.option("--kubeServiceAcct", "service_account", default="", help="kubernetes service account")
@click.option("--iamRoleARN", "iam_role", default="", help="IAM role")
@click.option("--clusterPool", "cluster_pool", default="", help="cluster pool to assign the execution to")
@click.option("--overwriteCache", "overwrite_cache", is_flag=True, help="recompute cached task outputs")
@click.option("--dryRun", "dry_run", is_flag=True, help="build the request and print it instead of sending it")
@common_options
def create_execution(name: str | None, **options: Any) -> None:
    """Launch an execution: --execFile spec.yaml, --relaunch ID, --recover ID, or a launch plan NAME.

    With --execFile (or --relaunch/--recover) the optional NAME names the new execution. Without them NAME is the
    launch plan to run with its default inputs (--task NAME for a task).
    """
    current = session()
    client = current.client
    for flag in ("relaunch", "recover"):
        if options[flag]:
            _relaunch_or_recover(flag, options[flag], name or "", bool(options["overwrite_cache"]))
            return
    if options["exec_file"]:
        spec = execfile.read(options["exec_file"])
        execution_name = name or ""
        # `create execution --execFile f.yaml` alone (the reference's quick card): the file names where it runs
        current.project_flag = current.project or spec.target_project
        current.domain_flag = current.domain or spec.target_domain
    elif options["task"] or name:
        spec = execfile.ExecSpec(task=options["task"], workflow="" if options["task"] else name or "")
        execution_name = ""
    else:
        raise CommandError("pass --execFile FILE (from `get launchplan NAME --execFile FILE`), --relaunch, --recover, "
                           "or a launch plan NAME")  # fmt: skip
    source_project, source_domain = current.require_project_domain()
    _apply_overrides(spec, options)
    request = _execution_request(spec, source_project, source_domain, execution_name)
    if options["dry_run"]:
        print(dump(to_dict(request), "yaml"))
        return
    created = client.call(client.admin.CreateExecution, request)
    print(f"execution identifier {_describe(created.id)}")


def _describe(exec_id: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    return f'project:"{exec_id.project}" domain:"{exec_id.domain}" name:"{exec_id.name}"'


def _apply_overrides(spec: execfile.ExecSpec, options: dict[str, Any]) -> None:
    for option, attribute in (
        ("version", "version"),
        ("target_project", "target_project"),
        ("target_domain", "target_domain"),
        ("target_cluster", "target_execution_cluster"),
        ("service_account", "kube_service_acct"),
        ("iam_role", "iam_role_arn"),
        ("cluster_pool", "cluster_pool"),
    ):
        if options[option]:
            setattr(spec, attribute, options[option])
    if options["overwrite_cache"]:
        spec.overwrite_cache = True


def _execution_request(
    spec: execfile.ExecSpec, project: str, domain: str, name: str
) -> execution_pb2.ExecutionCreateRequest:
    client = session().client
    if spec.task:
        task = entities.fetch_one(client, entities.TASK, project, domain, spec.task, spec.version)
        variables = task.closure.compiled_task.template.interface.inputs.variables
        types = {key: variable.type for key, variable in variables.items()}
        inputs = _inputs(types, spec.inputs, set(types))
        launch_id = task.id
    else:
        plan = entities.fetch_one(client, entities.LAUNCH_PLAN, project, domain, spec.workflow, spec.version)
        parameters = plan.spec.default_inputs.parameters
        types = {key: parameter.var.type for key, parameter in parameters.items()}
        required = {
            key for key, parameter in parameters.items() if parameter.required and not parameter.HasField("default")
        }
        inputs = _inputs(types, spec.inputs, required)
        launch_id = plan.id
    execution_spec = execution_pb2.ExecutionSpec(
        launch_plan=launch_id,
        metadata=execution_pb2.ExecutionMetadata(mode=execution_pb2.ExecutionMetadata.MANUAL, principal="aloftctl"),
        overwrite_cache=spec.overwrite_cache,
        envs=common_pb2.Envs(values=[common_pb2.KeyValuePair(key=k, value=v) for k, v in sorted(spec.envs.items())]),
    )
    if spec.kube_service_acct or spec.iam_role_arn:
        execution_spec.security_context.run_as.CopyFrom(
            security_pb2.Identity(k8s_service_account=spec.kube_service_acct, iam_role=spec.iam_role_arn)
        )
    if spec.cluster_pool:
        execution_spec.cluster_assignment.CopyFrom(
            cluster_assignment_pb2.ClusterAssignment(cluster_pool_name=spec.cluster_pool)
        )
    if spec.target_execution_cluster:
        execution_spec.execution_cluster_label.CopyFrom(
            matchable_resource_pb2.ExecutionClusterLabel(value=spec.target_execution_cluster)
        )
    return execution_pb2.ExecutionCreateRequest(
        project=spec.target_project or project,
        domain=spec.target_domain or domain,
        name=name,
        spec=execution_spec,
        inputs=inputs,
    )


def _inputs(types: dict[str, Any], values: dict[str, Any], required: set[str]) -> Any:
    """The execFile's inputs as literals; an input left out takes the launch plan's default (admin fills it in)."""
    try:
        return to_literal_map(types, values, required)
    except InputError as exc:
        raise CommandError(str(exc)) from exc


def _relaunch_or_recover(flag: str, source: str, name: str, overwrite_cache: bool) -> None:
    current = session()
    client = current.client
    project, domain = current.require_project_domain()
    source_id = executions.execution_id(project, domain, source)
    if flag == "relaunch":
        request: Any = execution_pb2.ExecutionRelaunchRequest(id=source_id, name=name, overwrite_cache=overwrite_cache)
        created = client.call(client.admin.RelaunchExecution, request)
    else:
        request = execution_pb2.ExecutionRecoverRequest(id=source_id, name=name)
        created = client.call(client.admin.RecoverExecution, request)
    print(f"execution identifier {_describe(created.id)}")


create.aliases.update({"projects": "project", "executions": "execution"})
