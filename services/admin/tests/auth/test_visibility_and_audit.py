"""With auth on: ListProjects answers only the projects the caller may read; configuration changes leave one audit
line each with the actor and target and none of the values set; the cluster resource controller reaches admin with
client credentials; signing-key rotation is audited."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from aloft_auth.client import blocking_outgoing_interceptors
from aloft_auth.config import AuthConfig
from flyteidl.admin import (
    common_pb2,
    launch_plan_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    project_pb2,
)
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_admin.api.config_audit import describe_target
from aloft_admin.clusterresource import AdminServiceData

SECRET_LOOKING_VALUE = "cluster-label-that-must-not-be-logged-7731"


async def _project_ids(auth_admin: Any, client_id: str, **request: Any) -> list[str]:
    stub = admin_pb2_grpc.AdminServiceStub(auth_admin.channel)
    token = await auth_admin.access_token(client_id)
    listed = await stub.ListProjects(project_pb2.ProjectListRequest(**request), metadata=auth_admin.bearer(token))
    return sorted(p.id for p in listed.projects)


async def test_list_projects_answers_only_the_projects_the_caller_may_read(auth_admin: Any) -> None:
    assert await _project_ids(auth_admin, "team-a") == ["project-a"]
    assert await _project_ids(auth_admin, "reader") == ["project-a", "project-b"]  # a role on projects: ["*"]
    # The caller's own filters still apply, within what they may see.
    assert await _project_ids(auth_admin, "team-a", filters="eq(identifier,project-b)") == []
    # Archived projects stay hidden from an unfiltered list, as without auth.
    stub = admin_pb2_grpc.AdminServiceStub(auth_admin.channel)
    platform = auth_admin.bearer(await auth_admin.access_token("flytepropeller"))
    await stub.UpdateProject(
        project_pb2.Project(id="project-a", name="project-a", state=project_pb2.Project.ARCHIVED), metadata=platform
    )
    assert await _project_ids(auth_admin, "team-a") == []
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        token = await auth_admin.access_token("team-a")
        reply = await http.get(
            "/api/v1/projects", params={"filters": "eq(state,1)"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert reply.status_code == 200 and [p["id"] for p in reply.json()["projects"]] == ["project-a"]


async def test_configuration_changes_are_audited_with_actor_and_no_values(
    auth_admin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="aloft.audit")
    stub = admin_pb2_grpc.AdminServiceStub(auth_admin.channel)
    platform = auth_admin.bearer(await auth_admin.access_token("flytepropeller"))
    await stub.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="audited", name="Audited")),
        metadata=platform,
    )
    attributes = mr.MatchingAttributes(execution_cluster_label=mr.ExecutionClusterLabel(value=SECRET_LOOKING_VALUE))
    await stub.UpdateProjectDomainAttributes(
        project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest(
            attributes=project_domain_attributes_pb2.ProjectDomainAttributes(
                project="audited", domain="development", matching_attributes=attributes
            )
        ),
        metadata=platform,
    )
    await stub.DeleteProjectDomainAttributes(
        project_domain_attributes_pb2.ProjectDomainAttributesDeleteRequest(
            project="audited", domain="development", resource_type=mr.EXECUTION_CLUSTER_LABEL
        ),
        metadata=platform,
    )
    # Through the REST gateway too, and a refused change leaves no config.change line.
    team_a = await auth_admin.access_token("team-a")
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        refused = await http.put(
            "/api/v1/project_attributes/audited",
            json={"attributes": {"project": "audited", "matching_attributes": {"execution_queue_attributes": {}}}},
            headers={"Authorization": f"Bearer {team_a}"},
        )
    assert refused.status_code == 403
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.UpdateProjectAttributes(
            project_attributes_pb2.ProjectAttributesUpdateRequest(
                attributes=project_attributes_pb2.ProjectAttributes(project="no-such-project")
            ),
            metadata=platform,
        )

    changes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("config.change")]
    assert changes == [
        "config.change action=project.register actor=flytepropeller client=flytepropeller target=id=audited"
        " name=Audited",
        "config.change action=attributes.update actor=flytepropeller client=flytepropeller target=project=audited"
        " domain=development resource=execution_cluster_label",
        "config.change action=attributes.delete actor=flytepropeller client=flytepropeller target=project=audited"
        " domain=development resource_type=EXECUTION_CLUSTER_LABEL",
    ]
    assert SECRET_LOOKING_VALUE not in caplog.text


async def test_the_cluster_resource_controller_reaches_admin_with_client_credentials(
    auth_admin: Any, tmp_path: Path
) -> None:
    secret = tmp_path / "propeller.secret"
    secret.write_text(auth_admin.secrets["flytepropeller"])
    auth = AuthConfig.model_validate(
        {
            **auth_admin.config.auth.model_dump(),
            "internal": {"clientId": "flytepropeller", "clientSecretLocation": str(secret)},
        }
    )
    endpoint = f"127.0.0.1:{auth_admin.running.grpc_port}"
    with_credentials = AdminServiceData(endpoint, blocking_outgoing_interceptors(auth))
    without = AdminServiceData(endpoint)
    try:
        projects = await asyncio.to_thread(with_credentials.projects)
        assert {p.id for p in projects} >= {"project-a", "project-b"}
        with pytest.raises(grpc.RpcError) as refused:
            await asyncio.to_thread(without.projects)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    finally:
        with_credentials.close()
        without.close()


def test_signing_key_rotation_is_audited(tmp_path: Path) -> None:
    config = tmp_path / "aloft.yaml"
    config.write_text(yaml.safe_dump({"stack": {"dataDir": str(tmp_path / "data")}}))
    command = [str(Path(sys.executable).parent / "aloft-admin"), "--config", str(config), "rotate-signing-key"]
    rotated = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert rotated.returncode == 0, rotated.stderr
    output = rotated.stdout + rotated.stderr
    assert "config.change action=signing_key.rotate actor=cli:" in output
    assert "PRIVATE KEY" not in output


def test_launch_plan_activation_and_entity_updates_name_their_target_only() -> None:
    activate = launch_plan_pb2.LaunchPlanUpdateRequest(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN, project="p", domain="d", name="lp", version="v1"
        ),
        state=launch_plan_pb2.ACTIVE,
    )
    assert describe_target(activate) == "resource_type=LAUNCH_PLAN project=p domain=d name=lp version=v1 state=ACTIVE"
    entity = common_pb2.NamedEntityUpdateRequest(
        resource_type=identifier_pb2.WORKFLOW,
        id=common_pb2.NamedEntityIdentifier(project="p", domain="d", name="wf"),
        metadata=common_pb2.NamedEntityMetadata(description="a description that is not logged"),
    )
    assert describe_target(entity) == "resource_type=WORKFLOW project=p domain=d name=wf"
