"""``auth.mutualTls`` on (with auth): every gRPC port speaks TLS; propeller → admin, propeller → datacatalog and
admin → propeller present the services' certificate; unmodified flytekit talks TLS to admin with the CA
(``caCertFilePath``). datacatalog and propeller refuse a client without a certificate signed by the CA."""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import pytest
from flyteidl.core import catalog_pb2, execution_pb2
from flyteidl.datacatalog import datacatalog_pb2, datacatalog_pb2_grpc

pytestmark = pytest.mark.e2e


def test_a_cached_workflow_runs_with_every_service_call_over_mtls(mtls_stack: Any) -> None:
    version = f"mtls-{uuid.uuid4().hex[:8]}"
    registered = mtls_stack.register_flows("ci-bot", version)
    assert registered.returncode == 0, registered.stdout[-2000:] + registered.stderr[-3000:]
    run = mtls_stack.flytekit("ci-bot", "run", version, "3", tool="driver")
    assert run.returncode == 0, run.stderr[-3000:] + mtls_stack.log("propeller")[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # Handed to propeller (admin's client certificate), events back to admin and the cache written to
    # datacatalog (propeller's).
    assert result["phase"] == execution_pb2.WorkflowExecution.SUCCEEDED and result["output"] == 25
    assert catalog_pb2.CACHE_POPULATED in result["cache"].values()


@pytest.mark.parametrize("service", ["datacatalog", "propeller"])
def test_internal_services_refuse_clients_without_the_cas_certificate(mtls_stack: Any, service: str) -> None:
    pki = mtls_stack.pki
    target = f"127.0.0.1:{mtls_stack.ports[f'{service}_grpc']}"
    ca = pki.ca.read_bytes()
    clients = {
        "plaintext": None,
        "TLS without a client certificate": grpc.ssl_channel_credentials(ca),
        "a certificate from another CA": grpc.ssl_channel_credentials(
            ca, pki.stranger_key.read_bytes(), pki.stranger_cert.read_bytes()
        ),
    }
    for what, credentials in clients.items():
        channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
        with channel, pytest.raises(grpc.RpcError) as refused:
            datacatalog_pb2_grpc.DataCatalogStub(channel).ListDatasets(datacatalog_pb2.ListDatasetsRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, what  # the handshake fails: nothing is served
    # The services' certificate gets through TLS (then auth asks for a token, as without mTLS).
    with (
        grpc.secure_channel(target, mtls_stack.service_credentials) as channel,
        pytest.raises(grpc.RpcError) as no_token,
    ):
        datacatalog_pb2_grpc.DataCatalogStub(channel).ListDatasets(datacatalog_pb2.ListDatasetsRequest(), timeout=5)
    assert no_token.value.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNIMPLEMENTED)
