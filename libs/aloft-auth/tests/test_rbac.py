"""Roles → permissions per project/domain, and the project/domain scopes read from requests."""

from __future__ import annotations

from aloft.events.v1 import events_pb2
from aloft_auth.config import RbacConfig
from aloft_auth.rbac import Authorizer, Scope, permission_for, request_scopes
from aloft_auth.tokens import Identity
from flyteidl.admin import project_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2 as core_event_pb2
from flyteidl.service import dataproxy_pb2


def _workflow_event(project: str, domain: str) -> events_pb2.Event:
    execution = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name="e")
    return events_pb2.Event(workflow=core_event_pb2.WorkflowExecutionEvent(execution_id=execution))


def test_a_batch_names_every_project_it_touches() -> None:
    batch = events_pb2.RecordEventsRequest(events=[_workflow_event("a", "development"), _workflow_event("b", "prod")])
    assert request_scopes(batch) == {Scope("a", "development"), Scope("b", "prod")}


def test_scopes_of_projects_flyte_urls_and_literal_data() -> None:
    assert request_scopes(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="p1"))) == {Scope("p1", "")}
    assert request_scopes(project_pb2.ProjectGetRequest(id="p2")) == {Scope("p2", "")}
    url = dataproxy_pb2.GetDataRequest(flyte_url="flyte://v1/p3/staging/exec/n0/0/o")
    assert request_scopes(url) == {Scope("p3", "staging")}
    # Literal maps are not walked (large, and they name no project).
    outputs = literals_pb2.LiteralMap(literals={"x": literals_pb2.Literal()})
    event = core_event_pb2.WorkflowExecutionEvent(output_data=outputs)
    assert request_scopes(event) == set()


def test_roles_grant_permissions_on_their_projects_and_domains() -> None:
    rbac = RbacConfig.model_validate(
        {
            "roles": {
                "dev": {
                    "permissions": ["workflows:execute", "executions:read"],
                    "projects": ["a"],
                    "domains": ["development"],
                },
                "reader": {"permissions": ["executions:*"], "projects": ["*"]},
            },
            "subjects": {"alice": ["dev"]},
            "groups": {"auditors": ["reader"]},
        }
    )
    authorizer = Authorizer(rbac)
    alice = Identity(subject="alice")
    assert authorizer.denied(alice, "workflows:execute", [Scope("a", "development")]) is None
    assert "project 'a', domain 'production'" in str(
        authorizer.denied(alice, "workflows:execute", [Scope("a", "production")])
    )
    assert authorizer.denied(alice, "workflows:execute", [Scope("b", "development")]) is not None
    assert authorizer.denied(alice, "executions:terminate", [Scope("a", "development")]) is not None
    # Project-wide requests: a domain-scoped role may read, not change.
    assert authorizer.denied(alice, "executions:read", [Scope("a", "")]) is None
    # Requests naming no project need the permission on every project.
    assert authorizer.denied(alice, "executions:read", []) is not None
    auditor = Identity(subject="bob", groups=("auditors",))
    assert authorizer.denied(auditor, "executions:terminate", [Scope("z", "prod")]) is None
    nobody = Identity(subject="carol")
    assert authorizer.denied(nobody, "executions:read", [Scope("a", "development")]) is not None


def test_no_roles_means_every_authenticated_caller_may_act() -> None:
    assert Authorizer(RbacConfig()).denied(Identity(subject="x"), "workflows:execute", []) is None


def test_permissions_of_rpcs() -> None:
    assert permission_for("/flyteidl.service.AdminService/CreateExecution") == "workflows:execute"
    assert permission_for("/flyteidl.service.AdminService/GetTaskExecution") == "executions:read"
    assert permission_for("/flyteidl.service.AdminService/ListTasks") == "tasks:read"
    assert permission_for("/flyteidl.service.DataProxyService/CreateUploadLocation") == "data:write"
    assert permission_for("/datacatalog.DataCatalog/GetOrExtendReservation") == "catalog:write"
    assert permission_for("/flyteidl.service.AuthMetadataService/GetOAuth2Metadata") is None
