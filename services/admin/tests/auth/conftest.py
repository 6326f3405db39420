"""An admin with ``auth.enabled`` (its own authorization server), and clients for the auth tests."""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import grpc
import httpx
import pytest

from aloft_admin.auth.keys import KEY_FILE
from aloft_admin.config import AdminConfig
from aloft_admin.deps import AdminDeps
from aloft_admin.server import build_deps, build_service, run_migrations
from aloft_service.runtime import ListenConfig, RunningService, start_service
from aloft_testing.certs import token_signing_key
from aloft_testing.servers import free_port

SECRETS = {"flytepropeller": "propeller-secret-0123", "team-a": "team-a-secret-4567", "reader": "reader-secret-89"}


def secret_hash(secret: str) -> str:
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4)).decode()


def auth_section(http_port: int, **overrides: Any) -> dict[str, Any]:
    confidential = {
        name: {"id": name, "client_secret": secret_hash(secret), "grant_types": ["client_credentials"]}
        for name, secret in SECRETS.items()
    }
    section: dict[str, Any] = {
        "enabled": True,
        "authorizedUris": [f"http://127.0.0.1:{http_port}"],
        "appAuth": {
            "selfAuthServer": {
                "staticClients": {
                    **confidential,
                    "flytectl": {
                        "id": "flytectl",
                        "public": True,
                        "redirect_uris": ["http://localhost:53593/callback"],
                        "grant_types": ["authorization_code", "refresh_token"],
                        "response_types": ["code"],
                        "scopes": ["all", "offline"],
                    },
                }
            }
        },
        "rbac": {
            "roles": {
                "platform_admin": {"permissions": ["*"], "projects": ["*"]},
                "team_a": {
                    "permissions": [
                        "workflows:*",
                        "tasks:*",
                        "launchplans:*",
                        "executions:*",
                        "entities:read",
                        "data:*",
                        "projects:read",
                    ],
                    "projects": ["project-a"],
                },
                "reader": {"permissions": ["executions:read", "projects:read"], "projects": ["*"]},
            },
            "subjects": {"flytepropeller": ["platform_admin"], "team-a": ["team_a"], "reader": ["reader"]},
            "groups": {"admins": ["platform_admin"]},
        },
    }
    section.update(overrides)
    return section


@dataclass
class AuthAdmin:
    """A running admin with auth on; ``secrets`` are the plain client secrets behind the configured hashes."""

    config: AdminConfig
    deps: AdminDeps
    running: RunningService
    channel: grpc.aio.Channel

    secrets = SECRETS

    @staticmethod
    def bearer(token: str) -> tuple[tuple[str, str]]:
        return (("flyte-authorization", f"Bearer {token}"),)

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.running.http_port}"

    async def token(self, client_id: str, secret: str | None = None, **form: str) -> httpx.Response:
        basic = base64.b64encode(f"{client_id}:{secret or SECRETS[client_id]}".encode()).decode()
        async with httpx.AsyncClient(base_url=self.http_base) as http:
            return await http.post(
                "/oauth2/token",
                data={"grant_type": "client_credentials", **form},
                headers={"Authorization": f"Basic {basic}"},
            )

    async def access_token(self, client_id: str) -> str:
        reply = await self.token(client_id)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])


async def start_auth_admin(
    tmp_path: Path,
    auth: dict[str, Any] | None = None,
    port: int = 0,
    database_url: str = "",
    server: dict[str, Any] | None = None,
) -> AuthAdmin:
    """Admins started on the same ``tmp_path`` and ``database_url`` are replicas: same keys, same database."""
    http_port = port or free_port()
    _seed_signing_key(tmp_path / "data")
    config = AdminConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": database_url or f"sqlite:///{tmp_path / 'admin.db'}"},
            "admin": {"grpcPort": 0, "httpPort": http_port, "seedProjects": ["project-a", "project-b"]},
            "storage": {"signedUrl": {"baseUrl": f"http://127.0.0.1:{http_port}/api/v1/blobs"}},
            "auth": auth or auth_section(http_port),
            **({"server": server} if server is not None else {}),
        }
    )
    run_migrations(config)
    deps = build_deps(config)
    running = await start_service(build_service(deps), ListenConfig(host="127.0.0.1", httpPort=http_port))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    return AuthAdmin(config, deps, running, channel)


def _seed_signing_key(data_dir: Path) -> None:
    """The session's signing key where admin keeps its own (``<dataDir>/auth/``), so admin loads it instead of making
    one per start; rotation (``rotate_signing_keys``) then works on that copy as on a key admin made."""
    path = data_dir / "auth" / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(token_signing_key(), path)
        path.chmod(0o600)


async def stop_auth_admin(admin: AuthAdmin) -> None:
    await admin.channel.close()
    await admin.running.stop(grace=0.5)


@pytest.fixture
async def auth_admin(tmp_path: Path) -> AsyncIterator[AuthAdmin]:
    admin = await start_auth_admin(tmp_path)
    try:
        yield admin
    finally:
        await stop_auth_admin(admin)


@pytest.fixture
def auth_admin_lifecycle() -> tuple[Any, Any, Any]:
    """(start, stop, auth_section) for tests that restart admin or change its auth section."""
    return start_auth_admin, stop_auth_admin, auth_section
