"""flytectl's execution spec file: written by ``get launchplan/task --execFile``, read by ``create execution``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aloftctl.client import CommandError
from aloftctl.literals import to_python, zero_value
from aloftctl.yamlfile import load_mapping

FIELDS = (
    "iamRoleARN",
    "inputs",
    "envs",
    "kubeServiceAcct",
    "targetDomain",
    "targetProject",
    "targetExecutionCluster",
    "clusterPool",
    "overwriteCache",
    "task",
    "workflow",
    "version",
)


@dataclass
class ExecSpec:
    workflow: str = ""  # a launch plan name, as flytectl calls it
    task: str = ""
    version: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)
    kube_service_acct: str = ""
    iam_role_arn: str = ""
    target_project: str = ""
    target_domain: str = ""
    target_execution_cluster: str = ""
    cluster_pool: str = ""
    overwrite_cache: bool = False

    def document(self) -> dict[str, Any]:
        entity = {"task": self.task} if self.task else {"workflow": self.workflow}
        return {
            "iamRoleARN": self.iam_role_arn,
            "inputs": self.inputs,
            "envs": self.envs,
            "kubeServiceAcct": self.kube_service_acct,
            "targetDomain": self.target_domain,
            "targetProject": self.target_project,
            **entity,
            "version": self.version,
        }


def from_launch_plan(launch_plan: Any) -> ExecSpec:
    """Defaults (or a zero value for required inputs) for every input of the launch plan."""
    inputs: dict[str, Any] = {}
    for name, parameter in sorted(launch_plan.spec.default_inputs.parameters.items()):
        if parameter.HasField("default"):
            inputs[name] = to_python(parameter.default)
        else:
            inputs[name] = zero_value(parameter.var.type)
    for name in launch_plan.spec.fixed_inputs.literals:
        inputs.pop(name, None)  # fixed inputs cannot be overridden at launch
    plan_id = launch_plan.id
    return ExecSpec(
        workflow=plan_id.name,
        version=plan_id.version,
        inputs=inputs,
        target_project=plan_id.project,  # so `create execution --execFile` needs no -p/-d
        target_domain=plan_id.domain,
    )


def from_task(task: Any) -> ExecSpec:
    variables = task.closure.compiled_task.template.interface.inputs.variables
    inputs = {name: zero_value(variable.type) for name, variable in sorted(variables.items())}
    task_id = task.id
    return ExecSpec(
        task=task_id.name,
        version=task_id.version,
        inputs=inputs,
        target_project=task_id.project,
        target_domain=task_id.domain,
    )


def write(path: str, spec: ExecSpec) -> None:
    try:
        Path(path).write_text(yaml.safe_dump(spec.document(), sort_keys=False))
    except OSError as exc:
        raise CommandError(f"cannot write execFile {path}: {exc.strerror or exc}") from exc


def read(path: str) -> ExecSpec:
    document = load_mapping(path, "execFile", CommandError)
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise CommandError(f"execFile {path}: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    spec = ExecSpec(
        workflow=str(document.get("workflow") or ""),
        task=str(document.get("task") or ""),
        version=str(document.get("version") or ""),
        inputs=dict(document.get("inputs") or {}),
        envs={str(k): str(v) for k, v in (document.get("envs") or {}).items()},
        kube_service_acct=str(document.get("kubeServiceAcct") or ""),
        iam_role_arn=str(document.get("iamRoleARN") or ""),
        target_project=str(document.get("targetProject") or ""),
        target_domain=str(document.get("targetDomain") or ""),
        target_execution_cluster=str(document.get("targetExecutionCluster") or ""),
        cluster_pool=str(document.get("clusterPool") or ""),
        overwrite_cache=bool(document.get("overwriteCache") or False),
    )
    if bool(spec.task) == bool(spec.workflow):
        raise CommandError(f"execFile {path}: set exactly one of 'workflow' (a launch plan name) or 'task'")
    return spec
