"""Bytes that are not the method's request message answer INVALID_ARGUMENT with a short message, on every
unary RPC admin serves (AdminService, DataProxyService, SignalService, auth metadata, identity) — never
UNKNOWN/INTERNAL with the parser's or Python's text."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.service import admin_pb2, auth_pb2, dataproxy_pb2, identity_pb2, signal_pb2

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # decoding happens before any database

# Field 1, length-delimited, claims 127 bytes but none follow: no protobuf message parses this.
TRUNCATED = b"\x0a\x7f"
# A group start tag without its end: also undecodable.
UNTERMINATED_GROUP = b"\x0b"


def unary_methods() -> list[str]:
    methods = []
    for module in (admin_pb2, dataproxy_pb2, signal_pb2, auth_pb2, identity_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            methods.extend(
                f"/{service.full_name}/{m.name}"
                for m in service.methods
                if not m.client_streaming and not m.server_streaming
            )
    return methods


async def test_every_unary_rpc_refuses_undecodable_bytes(admin_server: Any) -> None:
    methods = unary_methods()
    assert len(methods) > 50
    for method in methods:
        call = admin_server.channel.unary_unary(method)  # raw bytes in and out
        for payload in (TRUNCATED, UNTERMINATED_GROUP):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(payload, timeout=30)
            details = caught.value.details() or ""
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, caught.value.code(), details)
            assert "not a valid" in details and "Traceback" not in details and len(details) < 200, details
