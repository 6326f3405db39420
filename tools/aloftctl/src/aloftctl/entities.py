"""Looking up tasks, workflows and launch plans by flytectl's version rules: a version, ``latest``, or all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from aloftctl.client import AdminClient, CommandError
from aloftctl.filters import ListOptions

RESOURCE_TYPE = identifier_pb2.ResourceType


@dataclass(frozen=True)
class EntityKind:
    noun: str
    resource_type: int
    get: str
    list: str
    items_field: str


TASK = EntityKind("task", RESOURCE_TYPE.TASK, "GetTask", "ListTasks", "tasks")
WORKFLOW = EntityKind("workflow", RESOURCE_TYPE.WORKFLOW, "GetWorkflow", "ListWorkflows", "workflows")
LAUNCH_PLAN = EntityKind("launchplan", RESOURCE_TYPE.LAUNCH_PLAN, "GetLaunchPlan", "ListLaunchPlans", "launch_plans")


def identifier(kind: EntityKind, project: str, domain: str, name: str, version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=kind.resource_type, project=project, domain=domain, name=name, version=version
    )


def list_versions(
    client: AdminClient, kind: EntityKind, project: str, domain: str, name: str, options: ListOptions
) -> list[Any]:
    reply = client.call(getattr(client.admin, kind.list), options.resource_list_request(project, domain, name))
    return list(getattr(reply, kind.items_field))


def fetch_one(client: AdminClient, kind: EntityKind, project: str, domain: str, name: str, version: str) -> Any:
    """One version of a named entity; ``""`` or ``latest`` means the most recently registered one."""
    if version and version != "latest":
        request = common_pb2.ObjectGetRequest(id=identifier(kind, project, domain, name, version))
        return client.call(getattr(client.admin, kind.get), request)
    latest = list_versions(client, kind, project, domain, name, ListOptions(limit=1))
    if not latest:
        raise CommandError(f"no {kind.noun} named {name} in {project}/{domain}")
    return latest[0]


def fetch(
    client: AdminClient,
    kind: EntityKind,
    project: str,
    domain: str,
    name: str,
    version: str,
    options: ListOptions,
) -> tuple[list[Any], bool]:
    """(resources, single): a named version is one resource; no name or ``all`` lists (filters apply)."""
    if name and version and version != "all":
        return [fetch_one(client, kind, project, domain, name, version)], True
    return list_versions(client, kind, project, domain, name, options), False
