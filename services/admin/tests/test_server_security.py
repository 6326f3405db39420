"""Flyte's ``server.security`` block on admin's HTTP port: CORS (credentials for the listed origins only, never for
``*``; the block replaces ``admin.allowCors``/``allowedOrigins``) and TLS (``secure`` with ``ssl`` certificate and
key): HTTPS served, plain HTTP refused, signed URLs and the advertised endpoints on https."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from flyteidl.service import auth_pb2, auth_pb2_grpc

from aloft_admin.config import AdminConfig
from aloft_admin.gateway.blobs import local_signer
from aloft_admin.server import bind_http_port, build_deps, build_service, run_migrations
from aloft_config import ConfigError
from aloft_service.runtime import ListenConfig, start_service
from aloft_testing.certs import make_pki


def _config(tmp_path: Path, db_url: str, **sections: Any) -> AdminConfig:
    return AdminConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": db_url},
            "admin": {"grpcPort": 0, "httpPort": 0, "allowedOrigins": ["*"]},
            **sections,
        }
    )


async def test_server_security_cors_allows_credentials_for_listed_origins_only(tmp_path: Path, db_url: str) -> None:
    config = _config(
        tmp_path, db_url, server={"security": {"allowedOrigins": ["http://console.example"]}}
    )  # admin.allowedOrigins ["*"] is replaced by the server.security block
    run_migrations(config)
    running = await start_service(build_service(build_deps(config)), ListenConfig(host="127.0.0.1"))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.http_port}") as client:
            allowed = await client.options(
                "/api/v1/projects", headers={"Origin": "http://console.example", **preflight}
            )
            denied = await client.options("/api/v1/projects", headers={"Origin": "http://evil.example", **preflight})
            simple = await client.get("/api/v1/version", headers={"Origin": "http://evil.example"})
    finally:
        await running.stop(grace=0.1)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://console.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers
    assert "access-control-allow-origin" not in simple.headers


def test_a_wildcard_origin_never_gets_credentials(tmp_path: Path, db_url: str) -> None:
    from aloft_admin.gateway.app import _cors

    deps = build_deps(_config(tmp_path, db_url, server={"security": {"allowedOrigins": ["*"]}}))
    (middleware,) = _cors(deps)
    assert middleware.kwargs["allow_credentials"] is False


async def test_secure_serves_https_with_the_configured_certificate(tmp_path: Path, db_url: str) -> None:
    pki = make_pki(tmp_path / "pki")
    security = {"secure": True, "ssl": {"certificateFile": str(pki.cert), "keyFile": str(pki.key)}}
    config = _config(tmp_path, db_url, server={"security": security})
    run_migrations(config)
    deps = build_deps(config)
    running = await start_service(build_service(deps), ListenConfig(host="127.0.0.1"))
    port = running.http_port
    try:
        trusted = ssl.create_default_context(cafile=str(pki.ca))
        async with httpx.AsyncClient(verify=trusted) as client:
            health = await client.get(f"https://127.0.0.1:{port}/healthcheck")
            version = await client.get(f"https://127.0.0.1:{port}/api/v1/version")
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.HTTPError):  # a certificate nobody configured this client to trust
                await client.get(f"https://127.0.0.1:{port}/healthcheck")
            with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port: no answer
                await client.get(f"http://127.0.0.1:{port}/healthcheck")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}") as channel:
            stub = auth_pb2_grpc.AuthMetadataServiceStub(channel)
            metadata = await stub.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest(), timeout=10)
    finally:
        await running.stop(grace=0.1)
    assert health.status_code == 200 and version.status_code == 200
    assert metadata.token_endpoint.startswith("https://")  # what flytekit is told to call
    bind_http_port(deps, port)
    signer = local_signer(deps.blobs)
    assert signer is not None and signer.base_url == f"https://127.0.0.1:{port}/api/v1/blobs"


def test_secure_without_a_certificate_is_a_configuration_error(tmp_path: Path, db_url: str) -> None:
    with pytest.raises((ConfigError, ValueError), match=r"server\.security\.secure needs server\.security\.ssl"):
        _config(tmp_path, db_url, server={"security": {"secure": True}})
