"""authType ClientSecret: the OAuth2 client-credentials flow against the token endpoint admin advertises.

Admin does not enforce auth yet, so the authorization server here is a double: an in-process gRPC
AuthMetadataService naming a local HTTP token endpoint that checks the client's basic credentials."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import grpc
import pytest
from flyteidl.service import auth_pb2, auth_pb2_grpc

from aloft_testing.http_double import HttpDouble, Reply, Request, json_reply, serve_http
from aloftctl.client import AdminClient, CommandError
from aloftctl.config import resolve

CLIENT_ID, SECRET, TOKEN = "ci-bot", "s3cret", "token-123"


def _token_endpoint(request: Request) -> Reply:
    expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return json_reply({"error": "invalid_client"}, status=401)
    return json_reply({"access_token": TOKEN, "token_type": "bearer"})


class _Metadata(auth_pb2_grpc.AuthMetadataServiceServicer):
    def __init__(self, token_endpoint: str) -> None:
        self.token_endpoint = token_endpoint

    def GetOAuth2Metadata(self, request: Any, context: Any) -> auth_pb2.OAuth2MetadataResponse:
        return auth_pb2.OAuth2MetadataResponse(token_endpoint=self.token_endpoint)

    def GetPublicClientConfig(self, request: Any, context: Any) -> auth_pb2.PublicClientAuthConfigResponse:
        return auth_pb2.PublicClientAuthConfigResponse(scopes=["all"], authorization_metadata_key="flyte-authorization")


@dataclass
class _AuthServer:
    port: int  # admin's AuthMetadataService
    token_endpoint: HttpDouble


@pytest.fixture
def auth_server() -> Iterator[_AuthServer]:
    with serve_http(_token_endpoint) as http:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        auth_pb2_grpc.add_AuthMetadataServiceServicer_to_server(_Metadata(f"{http.url}/oauth2/token"), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            yield _AuthServer(port, http)
        finally:
            server.stop(None)


def _config(tmp_path: Path, port: int, secret: str) -> str:
    (tmp_path / "secret").write_text(secret + "\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"admin:\n  endpoint: dns:///127.0.0.1:{port}\n  insecure: true\n  authType: ClientSecret\n"
        f"  clientId: {CLIENT_ID}\n  clientSecretLocation: {tmp_path / 'secret'}\n"
    )
    return str(path)


def test_token_is_sent_in_the_advertised_header(tmp_path: Path, auth_server: _AuthServer) -> None:
    client = AdminClient(resolve(_config(tmp_path, auth_server.port, SECRET), env={}))
    try:
        assert client._metadata == [("flyte-authorization", f"Bearer {TOKEN}")]
    finally:
        client.close()
    sent = [parse_qs(request.body.decode()) for request in auth_server.token_endpoint.requests]
    assert sent == [{"grant_type": ["client_credentials"], "scope": ["all"]}]


def test_wrong_secret_is_one_clear_error(tmp_path: Path, auth_server: _AuthServer) -> None:
    with pytest.raises(CommandError, match=r"client-credentials login at http://127\.0\.0\.1:\d+/oauth2/token failed"):
        AdminClient(resolve(_config(tmp_path, auth_server.port, "wrong"), env={}))
