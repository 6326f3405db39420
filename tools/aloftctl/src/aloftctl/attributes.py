"""Matchable attributes: flytectl's attribute nouns, their attrFile format, and the admin calls at each level.

An attrFile is YAML: ``project``, ``domain``, optional ``workflow``, then the fields of the attribute message in
flytectl's spelling (proto field names, e.g. ``defaults`` / ``limits`` for task resources, ``max_parallelism`` for a
workflow execution config); camelCase is accepted too. The level is the most specific one given: workflow, then
project+domain, then project.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flyteidl.admin import (
    cluster_assignment_pb2,
    matchable_resource_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    workflow_attributes_pb2,
)
from google.protobuf import json_format
from google.protobuf.message import Message

from aloftctl.client import AdminClient, CommandError
from aloftctl.yamlfile import load_mapping

RESOURCE = matchable_resource_pb2.MatchableResource
SCOPE_KEYS = ("project", "domain", "workflow")


def _has_any(*fields: str) -> Callable[[Message], str | None]:
    def check(message: Message) -> str | None:
        if any(_is_set(message, name) for name in fields):
            return None
        return f"needs at least one of: {', '.join(fields)}"

    return check


def _is_set(message: Message, name: str) -> bool:
    try:
        return message.HasField(name)
    except ValueError:  # repeated, map and proto3 scalar fields have no presence: set means non-empty
        return bool(getattr(message, name))


def _plugin_overrides_valid(message: Any) -> str | None:
    if not message.overrides:
        return "needs overrides (a list of {task_type, plugin_id, missing_plugin_behavior})"
    for index, override in enumerate(message.overrides):
        if not override.task_type:
            return f"overrides[{index}] needs task_type"
        if not override.plugin_id:
            return f"overrides[{index}] needs plugin_id (a list of plugin names)"
    return None


@dataclass(frozen=True)
class AttributeKind:
    noun: str
    resource: int
    field: str  # the MatchingAttributes oneof field
    message: type[Message]
    validate: Callable[[Message], str | None]
    example: str

    def parse(self, body: dict[str, Any], source: str) -> Message:
        message = self.message()
        try:
            json_format.ParseDict(body, message)
        except json_format.ParseError as exc:
            raise CommandError(f"{source}: {self.noun}: {exc}") from exc
        problem = self.validate(message)
        if problem:
            raise CommandError(f"{source}: {self.noun} {problem}, e.g.\n{self.example}")
        return message

    def matching(self, message: Message) -> matchable_resource_pb2.MatchingAttributes:
        attributes = matchable_resource_pb2.MatchingAttributes()
        getattr(attributes, self.field).CopyFrom(message)
        return attributes


KINDS: dict[str, AttributeKind] = {
    kind.noun: kind
    for kind in (
        AttributeKind(
            "task-resource-attribute",
            RESOURCE.TASK_RESOURCE,
            "task_resource_attributes",
            matchable_resource_pb2.TaskResourceAttributes,
            _has_any("defaults", "limits"),
            'defaults:\n  cpu: "1"\n  memory: 1Gi\nlimits:\n  cpu: "2"\n  memory: 2Gi',
        ),
        AttributeKind(
            "cluster-resource-attribute",
            RESOURCE.CLUSTER_RESOURCE,
            "cluster_resource_attributes",
            matchable_resource_pb2.ClusterResourceAttributes,
            _has_any("attributes"),
            "attributes:\n  projectQuotaCpu: '1000'\n  projectQuotaMemory: 5Ti",
        ),
        AttributeKind(
            "execution-queue-attribute",
            RESOURCE.EXECUTION_QUEUE,
            "execution_queue_attributes",
            matchable_resource_pb2.ExecutionQueueAttributes,
            _has_any("tags"),
            "tags:\n  - foo\n  - bar",
        ),
        AttributeKind(
            "execution-cluster-label",
            RESOURCE.EXECUTION_CLUSTER_LABEL,
            "execution_cluster_label",
            matchable_resource_pb2.ExecutionClusterLabel,
            _has_any("value"),
            "value: gpu-cluster",
        ),
        AttributeKind(
            "plugin-override",
            RESOURCE.PLUGIN_OVERRIDE,
            "plugin_overrides",
            matchable_resource_pb2.PluginOverrides,
            _plugin_overrides_valid,
            "overrides:\n  - task_type: python_task\n    plugin_id: [my_plugin]\n    missing_plugin_behavior: FAIL",
        ),
        AttributeKind(
            "workflow-execution-config",
            RESOURCE.WORKFLOW_EXECUTION_CONFIG,
            "workflow_execution_config",
            matchable_resource_pb2.WorkflowExecutionConfig,
            _has_any(
                "max_parallelism",
                "security_context",
                "raw_output_data_config",
                "labels",
                "annotations",
                "interruptible",
                "overwrite_cache",
                "envs",
            ),
            "max_parallelism: 5\nsecurity_context:\n  run_as:\n    k8s_service_account: demo",
        ),
        AttributeKind(
            "cluster-assignment",
            RESOURCE.CLUSTER_ASSIGNMENT,
            "cluster_assignment",
            cluster_assignment_pb2.ClusterAssignment,
            _has_any("cluster_pool_name"),
            "cluster_pool_name: gpu-pool",
        ),
    )
}


@dataclass(frozen=True)
class Scope:
    project: str
    domain: str = ""
    workflow: str = ""

    def describe(self) -> str:
        return "/".join(part for part in (self.project, self.domain, self.workflow) if part)


def read_attr_file(path: str) -> dict[str, Any]:
    return load_mapping(path, "attrFile", CommandError)


def split_scope(document: dict[str, Any], project: str, domain: str, workflow: str, source: str) -> tuple[Scope, dict]:
    """The file's project/domain/workflow (falling back to the flags) and the attribute body."""
    body = {k: v for k, v in document.items() if k not in SCOPE_KEYS}
    scope = Scope(
        project=str(document.get("project") or project or ""),
        domain=str(document.get("domain") or domain or ""),
        workflow=str(document.get("workflow") or workflow or ""),
    )
    if not scope.project:
        raise CommandError(f"{source}: missing project (set 'project:' in the file or pass -p)")
    if scope.workflow and not scope.domain:
        raise CommandError(f"{source}: a workflow-level attribute needs a domain (set 'domain:' or pass -d)")
    return scope, body


def update(client: AdminClient, kind: AttributeKind, scope: Scope, message: Message) -> None:
    matching = kind.matching(message)
    if scope.workflow:
        attributes = workflow_attributes_pb2.WorkflowAttributes(
            project=scope.project, domain=scope.domain, workflow=scope.workflow, matching_attributes=matching
        )
        request: Any = workflow_attributes_pb2.WorkflowAttributesUpdateRequest(attributes=attributes)
        client.call(client.admin.UpdateWorkflowAttributes, request)
    elif scope.domain:
        pd = project_domain_attributes_pb2.ProjectDomainAttributes(
            project=scope.project, domain=scope.domain, matching_attributes=matching
        )
        request = project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest(attributes=pd)
        client.call(client.admin.UpdateProjectDomainAttributes, request)
    else:
        project = project_attributes_pb2.ProjectAttributes(project=scope.project, matching_attributes=matching)
        request = project_attributes_pb2.ProjectAttributesUpdateRequest(attributes=project)
        client.call(client.admin.UpdateProjectAttributes, request)


def fetch(client: AdminClient, kind: AttributeKind, scope: Scope) -> Message:
    if scope.workflow:
        reply = client.call(
            client.admin.GetWorkflowAttributes,
            workflow_attributes_pb2.WorkflowAttributesGetRequest(
                project=scope.project, domain=scope.domain, workflow=scope.workflow, resource_type=kind.resource
            ),
        )
    elif scope.domain:
        reply = client.call(
            client.admin.GetProjectDomainAttributes,
            project_domain_attributes_pb2.ProjectDomainAttributesGetRequest(
                project=scope.project, domain=scope.domain, resource_type=kind.resource
            ),
        )
    else:
        reply = client.call(
            client.admin.GetProjectAttributes,
            project_attributes_pb2.ProjectAttributesGetRequest(project=scope.project, resource_type=kind.resource),
        )
    return getattr(reply.attributes.matching_attributes, kind.field)


def delete(client: AdminClient, kind: AttributeKind, scope: Scope) -> None:
    if scope.workflow:
        client.call(
            client.admin.DeleteWorkflowAttributes,
            workflow_attributes_pb2.WorkflowAttributesDeleteRequest(
                project=scope.project, domain=scope.domain, workflow=scope.workflow, resource_type=kind.resource
            ),
        )
    elif scope.domain:
        client.call(
            client.admin.DeleteProjectDomainAttributes,
            project_domain_attributes_pb2.ProjectDomainAttributesDeleteRequest(
                project=scope.project, domain=scope.domain, resource_type=kind.resource
            ),
        )
    else:
        client.call(
            client.admin.DeleteProjectAttributes,
            project_attributes_pb2.ProjectAttributesDeleteRequest(project=scope.project, resource_type=kind.resource),
        )


def as_file_document(scope: Scope, message: Message) -> dict[str, Any]:
    """What ``get <attribute>`` prints and ``--attrFile`` writes: the same shape ``update --attrFile`` reads."""
    document: dict[str, Any] = {"project": scope.project}
    if scope.domain:
        document["domain"] = scope.domain
    if scope.workflow:
        document["workflow"] = scope.workflow
    document.update(json_format.MessageToDict(message, preserving_proto_field_name=True))
    return document
