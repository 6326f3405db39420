"""Authorization: which permission each RPC needs, which project/domain a request touches, and who may do it.

Permissions are ``<resource>:<action>`` (the reference's ``workflows:execute``, ``executions:read`` ...). Every RPC
of every service maps to one (an RPC with no rule is refused, never waved through); a request's project/domain
scopes are read from every identifier it carries, so a batch naming two projects needs the permission on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from aloft_auth.config import RbacConfig, Role
from aloft_auth.tokens import Identity

PUBLIC = None  # no token needed (discovery of how to authenticate)
AUTHENTICATED = ""  # any valid token
# Lists that name no project but answer only what the caller may see (admin filters them): any role with the
# permission on some project admits the call.
FILTERED_LISTS = frozenset({"flyteidl.service.AdminService/ListProjects"})

_RULES: list[tuple[str, str | None]] = [
    # Discovery and health: answered without a token (clients call them to learn how to get one).
    (r"flyteidl\.service\.AuthMetadataService/.*", PUBLIC),
    (r"grpc\.health\.v1\.Health/.*", PUBLIC),
    (r"grpc\.reflection\.v1alpha\.ServerReflection/.*", PUBLIC),
    (r"flyteidl\.service\.IdentityService/UserInfo", AUTHENTICATED),
    (r"flyteidl\.service\.AdminService/GetVersion", AUTHENTICATED),
    # Executions.
    (r".*AdminService/(Create|Relaunch|Recover)Execution", "workflows:execute"),
    (r".*AdminService/TerminateExecution", "executions:terminate"),
    (r".*AdminService/UpdateExecution", "executions:update"),
    (r".*AdminService/Create(Workflow|Node|Task)Event", "events:create"),
    (r"aloft\.events\.v1\.EventService/RecordEvents", "events:create"),
    (r".*AdminService/(Get|List)\w*(Execution|DynamicNodeWorkflow)\w*", "executions:read"),
    # Registered entities.
    (r".*AdminService/CreateTask", "tasks:create"),
    (r".*AdminService/(Get|List)Task\w*", "tasks:read"),
    (r".*AdminService/CreateWorkflow", "workflows:create"),
    (r".*AdminService/(Get|List)Workflow(s|Ids)?", "workflows:read"),
    (r".*AdminService/CreateLaunchPlan", "launchplans:create"),
    (r".*AdminService/UpdateLaunchPlan", "launchplans:update"),
    (r".*AdminService/(Get|List)\w*LaunchPlan\w*", "launchplans:read"),
    (r".*AdminService/(Get|List)(NamedEntit|DescriptionEntit)\w*", "entities:read"),
    (r".*AdminService/UpdateNamedEntity", "entities:update"),
    # Projects and their attributes.
    (r".*AdminService/RegisterProject", "projects:create"),
    (r".*AdminService/UpdateProject", "projects:update"),
    (r".*AdminService/(GetProject|ListProjects|GetDomains)", "projects:read"),
    (r".*AdminService/(Update|Delete)\w*Attributes", "attributes:update"),
    (r".*AdminService/(Get|List)\w*Attributes", "attributes:read"),
    # Data: upload and download URLs, literal data.
    (r".*DataProxyService/CreateUploadLocation", "data:write"),
    (r".*DataProxyService/\w+", "data:read"),
    (r".*SignalService/GetOrCreateSignal", "signals:create"),
    (r".*SignalService/ListSignals", "signals:read"),
    (r".*SignalService/SetSignal", "signals:update"),
    # Datacatalog (task output cache) and the data plane (admin → propeller).
    (r"datacatalog\.DataCatalog/GetOrExtendReservation", "catalog:write"),
    (r"datacatalog\.DataCatalog/(Get|List)\w+", "catalog:read"),
    (r"datacatalog\.DataCatalog/\w+", "catalog:write"),
    (r"aloft\.dataplane\.v1\.DataPlaneService/(Get|List)\w+", "dataplane:read"),
    (r"aloft\.dataplane\.v1\.DataPlaneService/\w+", "dataplane:write"),
]
_COMPILED = [(re.compile(pattern), permission) for pattern, permission in _RULES]


class UnknownMethod(Exception):
    """An RPC no rule covers: refused (a new RPC must be given a permission before anyone can call it)."""


def permission_for(full_method: str) -> str | None:
    """``/pkg.Service/Method`` (or ``pkg.Service/Method``) → the permission it needs, ``""`` for any valid token,
    ``None`` for public RPCs."""
    name = full_method.lstrip("/")
    for pattern, permission in _COMPILED:
        if pattern.fullmatch(name):
            return permission
    raise UnknownMethod(f"no permission is defined for {name}")


@dataclass(frozen=True)
class Scope:
    project: str
    domain: str  # "" = the project as a whole


# Literal data can be large and never names a project: not walked.
_SKIPPED_TYPES = frozenset(
    {
        "flyteidl.core.LiteralMap",
        "flyteidl.core.Literal",
        "flyteidl.core.LiteralCollection",
        "flyteidl.core.Scalar",
        "google.protobuf.Struct",
        "flyteidl.core.CompiledWorkflowClosure",
        "flyteidl.core.TaskTemplate",
        "flyteidl.core.WorkflowTemplate",
    }
)
_MAX_DEPTH = 8
_FLYTE_URL = re.compile(r"^flyte://v1/(?P<project>[^/]+)/(?P<domain>[^/]+)/")


def _own_scope(message: Message) -> Scope | None:
    descriptor = message.DESCRIPTOR
    full_name = descriptor.full_name
    if full_name == "flyteidl.admin.Project" or full_name == "flyteidl.admin.ProjectGetRequest":
        return Scope(getattr(message, "id", ""), "") if getattr(message, "id", "") else None
    fields = descriptor.fields_by_name
    project_field = fields.get("project")
    if project_field is None or project_field.type != FieldDescriptor.TYPE_STRING:
        return None
    project = getattr(message, "project", "")
    if not project:
        return None
    domain_field = fields.get("domain")
    domain = getattr(message, "domain", "") if domain_field is not None else ""
    return Scope(project, domain)


def request_scopes(message: Message) -> set[Scope]:
    """Every (project, domain) a request names, from its identifiers (and a GetData ``flyte://`` URL)."""
    found: set[Scope] = set()

    def walk(msg: Message, depth: int) -> None:
        own = _own_scope(msg)
        if own is not None:
            found.add(own)
        if depth >= _MAX_DEPTH:
            return
        for field, value in msg.ListFields():
            if field.type == FieldDescriptor.TYPE_STRING and field.name in ("flyte_url",):
                match = _FLYTE_URL.match(value)
                if match:
                    found.add(Scope(match["project"], match["domain"]))
            kind = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
            if kind is None or kind.full_name in _SKIPPED_TYPES or kind.GetOptions().map_entry:
                continue
            items = value if field.is_repeated else [value]
            for item in items:
                walk(item, depth + 1)

    walk(message, 0)
    return found


def _grants(role: Role, permission: str) -> bool:
    resource, _, _ = permission.partition(":")
    return any(p in ("*", permission, f"{resource}:*") for p in role.permissions)


def _covers(role: Role, scope: Scope, action: str) -> bool:
    if "*" not in role.projects and scope.project not in role.projects:
        return False
    if "*" in role.domains:
        return True
    if not scope.domain:
        # A project-wide request: reading is fine for a role scoped to some of its domains, changing it is not.
        return action == "read"
    return scope.domain in role.domains


class Authorizer:
    def __init__(self, rbac: RbacConfig) -> None:
        self.rbac = rbac

    @property
    def enabled(self) -> bool:
        return bool(self.rbac.roles)

    def roles_of(self, identity: Identity) -> list[Role]:
        names = set(self.rbac.subjects.get(identity.subject, []))
        if identity.client_id and identity.client_id != identity.subject:
            names.update(self.rbac.subjects.get(identity.client_id, []))
        for group in identity.groups:
            names.update(self.rbac.groups.get(group, []))
        if not names:
            names.update(self.rbac.defaultRoles)
        return [self.rbac.roles[name] for name in sorted(names)]

    def visible_projects(self, identity: Identity, permission: str) -> set[str] | None:
        """The projects ``identity`` may use ``permission`` on (None: every project)."""
        if not self.enabled:
            return None
        projects: set[str] = set()
        for role in self.roles_of(identity):
            if _grants(role, permission):
                if "*" in role.projects:
                    return None
                projects.update(role.projects)
        return projects

    def denied(self, identity: Identity, permission: str, scopes: Iterable[Scope]) -> str | None:
        """Why ``identity`` may not use ``permission`` on ``scopes`` (None: it may)."""
        if not self.enabled or permission == AUTHENTICATED:
            return None
        roles = [role for role in self.roles_of(identity) if _grants(role, permission)]
        if not roles:
            return f"{identity.subject!r} lacks permission {permission!r}"
        action = permission.partition(":")[2]
        wanted = list(scopes) or [Scope("*", "")]
        for scope in wanted:
            if not any(_covers(role, scope, action) for role in roles):
                where = "all projects" if scope.project == "*" else f"project {scope.project!r}"
                where += f", domain {scope.domain!r}" if scope.domain else ""
                return f"{identity.subject!r} lacks permission {permission!r} on {where}"
        return None
