"""The audit trail of configuration changes: every successful call of an RPC that changes platform configuration
(projects, matchable attributes, launch plan activation, named entity metadata) leaves one ``config.change`` line in
the ``aloft.audit`` log with the caller (token subject and client, ``anonymous`` when auth is off) and the target.

The servicer methods are wrapped once at start-up, so gRPC and the REST gateway (which call the same methods) are
both covered and no manager changes. Values set are never logged: attributes may carry secrets' names, env vars.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aloft_auth.audit import AuditLog
from aloft_auth.enforce import current_identity
from flyteidl.admin import launch_plan_pb2
from google.protobuf.message import Message

# RPC → the action named in the audit line.
CONFIGURATION_CHANGES = {
    "RegisterProject": "project.register",
    "UpdateProject": "project.update",
    "UpdateProjectDomainAttributes": "attributes.update",
    "DeleteProjectDomainAttributes": "attributes.delete",
    "UpdateProjectAttributes": "attributes.update",
    "DeleteProjectAttributes": "attributes.delete",
    "UpdateWorkflowAttributes": "attributes.update",
    "DeleteWorkflowAttributes": "attributes.delete",
    "UpdateLaunchPlan": "launchplan.state",
    "UpdateNamedEntity": "entity.update",
}
# The request fields that say what was changed (nested messages are searched; values of settings are not read).
_TARGET_FIELDS = ("resource_type", "org", "project", "domain", "workflow", "launch_plan", "name", "version", "id")


def describe_target(request: Message) -> str:
    """``project=p domain=d resource_type=TASK_RESOURCE ...`` from the identifying fields of a request."""
    parts: list[str] = []
    _collect(request, parts, depth=0)
    if isinstance(request, launch_plan_pb2.LaunchPlanUpdateRequest):
        parts.append(f"state={launch_plan_pb2.LaunchPlanState.Name(request.state)}")
    return " ".join(parts)


def _collect(message: Message, parts: list[str], depth: int) -> None:
    for field, value in message.ListFields():
        if field.name == "matching_attributes":
            parts.append(f"resource={value.WhichOneof('target')}")
            continue
        if field.name not in _TARGET_FIELDS and field.name not in ("attributes", "project"):
            continue
        if field.message_type is not None and depth < 2:
            _collect(value, parts, depth + 1)
        elif field.enum_type is not None:
            parts.append(f"{field.name}={field.enum_type.values_by_number[value].name}")
        elif field.name in _TARGET_FIELDS and isinstance(value, (str, int)):
            parts.append(f"{field.name}={value}")


def audit_configuration_changes(servicer: object, audit: AuditLog) -> None:
    """Wrap ``servicer``'s configuration-changing RPCs (those it has) so each success is audited."""
    for method, action in CONFIGURATION_CHANGES.items():
        rpc = getattr(servicer, method, None)
        if rpc is not None:
            setattr(servicer, method, _audited(rpc, action, audit))


def _audited(
    rpc: Callable[[Any, Any], Awaitable[Any]], action: str, audit: AuditLog
) -> Callable[[Any, Any], Awaitable[Any]]:
    @functools.wraps(rpc)
    async def call(request: Any, context: Any) -> Any:
        reply = await rpc(request, context)
        identity = current_identity.get()
        actor = identity.subject if identity is not None else "anonymous"
        client = identity.client_id if identity is not None else ""
        audit.configuration_change(action, actor, client, describe_target(request))
        return reply

    return call
