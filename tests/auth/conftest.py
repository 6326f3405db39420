"""The stack with ``auth.enabled`` as real processes: admin (its own authorization server), datacatalog and propeller
authenticating to each other with client credentials, unmodified flytekit (ClientSecret) as the user, and the test
OpenID Connect provider (aloft_testing.oidc) through which browser users (alice) log in to the console."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aloft_testing.certs import Pki, make_pki
from aloft_testing.flytekit import flytekit_bin
from aloft_testing.servers import free_port, port_open

HERE = Path(__file__).resolve().parent
SERVICES = ("datacatalog", "admin", "propeller")
SECRETS = {"flytepropeller": "propeller-e2e-secret-1f2e", "ci-bot": "ci-bot-e2e-secret-9a8b"}
# admin's own client secret at the OIDC provider (kept in a file like the others; must not be logged either)
OIDC_CLIENT, OIDC_SECRET = "aloft-admin", "admin-at-the-provider-e2e-77c1"
OIDC_USER, OIDC_GROUP = "alice", "console-users"


def _channel(port: int, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    target = f"127.0.0.1:{port}"
    return grpc.secure_channel(target, credentials) if credentials is not None else grpc.insecure_channel(target)


def _serving(port: int, credentials: grpc.ChannelCredentials | None = None) -> bool:
    with _channel(port, credentials) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@dataclass
class AuthStack:
    root: Path
    config_file: Path
    ports: dict[str, int]
    secret_files: dict[str, Path]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pki: Pki | None = None  # auth.mutualTls on: the services' certificates

    @property
    def service_credentials(self) -> grpc.ChannelCredentials | None:
        """What a service presents when mTLS is on (its certificate, trusting the CA)."""
        if self.pki is None:
            return None
        return grpc.ssl_channel_credentials(
            self.pki.ca.read_bytes(), self.pki.key.read_bytes(), self.pki.cert.read_bytes()
        )

    @property
    def admin_http(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin_http']}"

    @property
    def oidc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['oidc']}"

    def start_oidc_provider(self) -> None:
        log = open(self.root / "oidc.log", "ab")  # noqa: SIM115 - owned by the child process
        self.procs["oidc"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aloft_testing.oidc",
                "--port",
                str(self.ports["oidc"]),
                "--client-id",
                OIDC_CLIENT,
                "--client-secret",
                OIDC_SECRET,
                "--redirect-uri",
                f"{self.admin_http}/callback",
                "--user",
                OIDC_USER,
                "--groups",
                OIDC_GROUP,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", self.ports["oidc"]):
            if self.procs["oidc"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the OIDC provider did not start:\n{self.log('oidc')[-3000:]}")
            time.sleep(0.1)

    def start(self, name: str) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        self.procs[name] = subprocess.Popen(
            [str(Path(sys.executable).parent / f"aloft-{name}"), "--config", str(self.config_file), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            env={**os.environ, "ALOFT_FLYTEKIT_VENV": str(flytekit_bin().parent)},
        )
        deadline = time.monotonic() + 60
        while not _serving(self.ports[f"{name}_grpc"], self.service_credentials):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"aloft-{name} did not start:\n{self.log(name)[-3000:]}")
            time.sleep(0.2)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def flytekit_config(self, client_id: str) -> Path:
        path = self.root / f"flytekit-{client_id}.yaml"
        admin = {
            "endpoint": f"dns:///127.0.0.1:{self.ports['admin_grpc']}",
            "insecure": self.pki is None,
            "authType": "ClientSecret",
            "clientId": client_id,
            "clientSecretLocation": str(self.secret_files[client_id]),
        }
        if self.pki is not None:  # flytekit speaks TLS to admin (no client certificate: admin does not ask for one)
            admin["caCertFilePath"] = str(self.pki.ca)
        path.write_text(yaml.safe_dump({"admin": admin}))
        return path

    def flytekit(self, client_id: str, *args: str, tool: str = "pyflyte") -> subprocess.CompletedProcess[str]:
        bin_dir = flytekit_bin()
        command = [str(bin_dir / "pyflyte"), "--config", str(self.flytekit_config(client_id)), *args]
        if tool == "driver":
            command = [str(bin_dir / "python"), str(HERE / "driver.py"), str(self.flytekit_config(client_id)), *args]
        return subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=300, check=False)


def _config(root: Path, ports: dict[str, int], secret_files: dict[str, Path]) -> dict[str, Any]:
    admin_http = f"http://127.0.0.1:{ports['admin_http']}"
    clients = {
        name: {
            "id": name,
            "client_secret": bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4)).decode(),
            "grant_types": ["client_credentials"],
        }
        for name, secret in SECRETS.items()
    }
    return {
        "stack": {"dataDir": str(root / "data")},
        "admin": {
            "grpcPort": ports["admin_grpc"],
            "httpPort": ports["admin_http"],
            "dataPlanes": [{"name": "default", "endpoint": f"127.0.0.1:{ports['propeller_grpc']}"}],
        },
        "datacatalog": {"grpcPort": ports["datacatalog_grpc"], "httpPort": ports["datacatalog_http"]},
        "propeller": {
            "grpcPort": ports["propeller_grpc"],
            "httpPort": ports["propeller_http"],
            "adminEndpoint": f"127.0.0.1:{ports['admin_grpc']}",
            "datacatalogEndpoint": f"127.0.0.1:{ports['datacatalog_grpc']}",
            "workflow-reeval-duration": "1s",
            "downstream-eval-duration": "1s",
        },
        "storage": {"type": "local", "signedUrl": {"baseUrl": f"{admin_http}/api/v1/blobs"}},
        # The one block that turns auth on for every service.
        "auth": {
            "enabled": True,
            "authorizedUris": [admin_http],
            "appAuth": {"selfAuthServer": {"staticClients": clients}},
            "userAuth": {
                "openId": {
                    "baseUrl": f"http://127.0.0.1:{ports['oidc']}",
                    "clientId": OIDC_CLIENT,
                    "clientSecretLocation": str(secret_files[OIDC_CLIENT]),
                    "scopes": ["openid", "profile", "email", "groups"],
                }
            },
            "internal": {"clientId": "flytepropeller", "clientSecretLocation": str(secret_files["flytepropeller"])},
            "rbac": {
                "roles": {
                    "platform": {"permissions": ["*"], "projects": ["*"]},
                    "ci": {
                        "permissions": [
                            "tasks:*",
                            "workflows:*",
                            "launchplans:*",
                            "executions:*",
                            "entities:read",
                            "data:*",
                            "projects:read",
                        ],
                        "projects": ["flytesnacks"],
                    },
                    # browser users of the console: launch and terminate in flytesnacks
                    "console": {
                        "permissions": [
                            "workflows:*",
                            "tasks:read",
                            "launchplans:read",
                            "executions:*",
                            "entities:read",
                            "attributes:read",
                            "data:*",
                            "projects:read",
                        ],
                        "projects": ["flytesnacks"],
                    },
                },
                "subjects": {"flytepropeller": ["platform"], "ci-bot": ["ci"]},
                "groups": {OIDC_GROUP: ["console"]},
            },
        },
    }


@pytest.fixture(scope="module")
def auth_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    with _started_stack(tmp_path_factory.mktemp("auth-stack"), mutual_tls=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def mtls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    """The same stack with ``auth.mutualTls`` on: every gRPC port speaks TLS, datacatalog and propeller require
    the services' client certificate."""
    with _started_stack(tmp_path_factory.mktemp("mtls-stack"), mutual_tls=True) as stack:
        yield stack


@contextmanager
def _started_stack(root: Path, mutual_tls: bool) -> Iterator[AuthStack]:
    flytekit_bin()  # fails naming the fix when the flytekit virtualenv is missing
    ports = {f"{svc}_{kind}": free_port() for svc in SERVICES for kind in ("grpc", "http")}
    ports["oidc"] = free_port()
    secret_files = {}
    for name, secret in {**SECRETS, OIDC_CLIENT: OIDC_SECRET}.items():
        path = root / f"{name}.secret"
        path.write_text(secret + "\n")
        path.chmod(0o600)
        secret_files[name] = path
    config = _config(root, ports, secret_files)
    pki = make_pki(root / "pki") if mutual_tls else None
    if pki is not None:
        config["auth"]["mutualTls"] = {
            "enabled": True,
            "certFile": str(pki.cert),
            "keyFile": str(pki.key),
            "caFile": str(pki.ca),
        }
    config_file = root / "aloft.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    stack = AuthStack(root, config_file, ports, secret_files, pki=pki)
    try:
        if not mutual_tls:  # the browser login test's provider
            stack.start_oidc_provider()
        for name in SERVICES:
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()
