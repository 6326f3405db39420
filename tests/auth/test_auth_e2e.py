"""Auth on, real processes: unmodified flytekit (ClientSecret) registers and runs a workflow; propeller reaches admin
and datacatalog, admin reaches propeller, each with client-credentials tokens; every service refuses calls without
a token; propeller's credentials with a wrong secret cannot report events; no secret or token in any log line."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from aloft_auth.client import BearerTokenInterceptor, ClientCredentialsTokenSource
from aloft_auth.config import InternalClient
from flyteidl.admin import event_pb2, project_pb2
from flyteidl.core import catalog_pb2, execution_pb2, identifier_pb2
from flyteidl.datacatalog import datacatalog_pb2, datacatalog_pb2_grpc
from flyteidl.event import event_pb2 as core_event_pb2
from flyteidl.service import admin_pb2_grpc
from google.protobuf import timestamp_pb2

pytestmark = pytest.mark.e2e

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.")


def test_flytekit_client_secret_registers_and_runs_a_cached_workflow(auth_stack: Any) -> None:
    version = f"auth-{uuid.uuid4().hex[:8]}"
    registered = auth_stack.register_flows("ci-bot", version)
    assert registered.returncode == 0, (
        registered.stdout[-2000:] + registered.stderr[-3000:] + auth_stack.log("admin")[-3000:]
    )
    first = auth_stack.flytekit("ci-bot", "run", version, "3", tool="driver")
    assert first.returncode == 0, first.stderr[-3000:] + auth_stack.log("propeller")[-3000:]
    result = json.loads(first.stdout.strip().splitlines()[-1])
    assert result["phase"] == execution_pb2.WorkflowExecution.SUCCEEDED and result["output"] == 9 + 16
    assert catalog_pb2.CACHE_POPULATED in result["cache"].values()
    second = json.loads(auth_stack.flytekit("ci-bot", "run", version, "3", tool="driver").stdout.splitlines()[-1])
    # The cached task was found in datacatalog: propeller's token opened it.
    assert second["output"] == 25 and catalog_pb2.CACHE_HIT in second["cache"].values()
    admin_log, catalog_log = auth_stack.log("admin"), auth_stack.log("datacatalog")
    assert "token.issued client=ci-bot grant=client_credentials" in admin_log
    assert "token.issued client=flytepropeller grant=client_credentials" in admin_log
    assert "auth.success subject=flytepropeller client=flytepropeller method=/datacatalog.DataCatalog/" in catalog_log
    assert "method=/aloft.dataplane.v1.DataPlaneService/CreateExecution" in auth_stack.log("propeller")


def test_ci_bot_cannot_register_into_another_project(auth_stack: Any) -> None:
    result = auth_stack.flytekit(
        "ci-bot", "register", "--project", "other", "--domain", "development", "--version", "v1", "flows"
    )
    assert result.returncode != 0
    assert "PERMISSION_DENIED" in result.stdout + result.stderr or "permission" in (result.stdout + result.stderr)


@pytest.mark.parametrize(
    ("service", "call"),
    [
        (
            "datacatalog",
            lambda channel: datacatalog_pb2_grpc.DataCatalogStub(channel).GetDataset(
                datacatalog_pb2.GetDatasetRequest(), timeout=10
            ),
        ),
        (
            "propeller",
            lambda channel: dataplane_pb2_grpc.DataPlaneServiceStub(channel).ListExecutions(
                dataplane_pb2.ListExecutionsRequest(), timeout=10
            ),
        ),
        (
            "admin",
            lambda channel: admin_pb2_grpc.AdminServiceStub(channel).ListProjects(
                project_pb2.ProjectListRequest(), timeout=10
            ),
        ),
    ],
)
def test_services_refuse_calls_without_a_token(auth_stack: Any, service: str, call: Any) -> None:
    target = f"127.0.0.1:{auth_stack.ports[f'{service}_grpc']}"
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as refused:
        call(channel)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_propeller_credentials_with_a_wrong_secret_cannot_report_events(auth_stack: Any, tmp_path: Any) -> None:
    from aloft_propeller.events.sink import AdminEventSink

    wrong = tmp_path / "wrong.secret"
    wrong.write_text("not-the-propeller-secret")
    source = ClientCredentialsTokenSource(
        InternalClient(clientId="flytepropeller", clientSecretLocation=str(wrong)),
        f"{auth_stack.admin_http}/.well-known/oauth-authorization-server",
    )
    sink = AdminEventSink(
        f"127.0.0.1:{auth_stack.ports['admin_grpc']}", attempts=1, interceptors=[BearerTokenInterceptor(source)]
    )
    event = event_pb2.WorkflowExecutionEventRequest(
        request_id="r1",
        event=core_event_pb2.WorkflowExecutionEvent(
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project="flytesnacks", domain="development", name="nope"
            ),
            producer_id="default",
            phase=execution_pb2.WorkflowExecution.RUNNING,
            occurred_at=timestamp_pb2.Timestamp(seconds=1),
        ),
    )
    stub = admin_pb2_grpc.AdminServiceStub(sink._channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateWorkflowEvent(event, timeout=10)
    await sink.close()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "token.refused client=flytepropeller grant=client_credentials error=invalid_client" in auth_stack.log(
        "admin"
    )


def test_no_secret_or_token_in_any_log_line(auth_stack: Any) -> None:
    for name in ("admin", "datacatalog", "propeller"):
        text = auth_stack.log(name)
        assert text, name
        for secret in (
            *[s for s in (auth_stack.secret_files[c].read_text().strip() for c in auth_stack.secret_files)],
        ):
            assert secret not in text, name
        assert not JWT.search(text), f"{name} logged a token"
        assert "Bearer " not in text and "$2b$" not in text, name


def test_aloftctl_client_credentials(auth_stack: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    def aloftctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).parent / "aloftctl"), "--config", str(config), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    # flytectl's config shape (admin.authType ClientSecret, clientId, clientSecretLocation).
    listed = aloftctl(auth_stack.flytekit_config("flytepropeller"), "get", "projects")
    assert listed.returncode == 0, listed.stderr
    assert "flytesnacks" in listed.stdout
    created = aloftctl(auth_stack.flytekit_config("flytepropeller"), "create", "project", "--id", "ops-only")
    assert created.returncode == 0, created.stderr
    # ci-bot's role covers only flytesnacks: it lists that project and not the others.
    scoped = aloftctl(auth_stack.flytekit_config("ci-bot"), "get", "projects")
    assert scoped.returncode == 0, scoped.stderr
    assert "flytesnacks" in scoped.stdout and "ops-only" not in scoped.stdout
    assert "ops-only" in aloftctl(auth_stack.flytekit_config("flytepropeller"), "get", "projects").stdout
    assert "config.change action=project.register actor=flytepropeller" in auth_stack.log("admin")
    anonymous = auth_stack.root / "anonymous.yaml"
    anonymous.write_text(f"admin:\n  endpoint: dns:///127.0.0.1:{auth_stack.ports['admin_grpc']}\n  insecure: true\n")
    refused = aloftctl(anonymous, "get", "projects")
    assert refused.returncode != 0 and "UNAUTHENTICATED" in refused.stderr
