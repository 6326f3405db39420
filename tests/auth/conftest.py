"""The stack with ``auth.enabled`` as real processes: admin (its own authorization server), datacatalog and propeller
authenticating to each other with client credentials, unmodified flytekit (ClientSecret) as the user, and the test
OpenID Connect provider (aloft_testing.oidc) through which browser users (alice) log in to the console."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import grpc
import pytest
import yaml

from aloft_testing.certs import Pki, make_pki
from aloft_testing.flytekit import flytekit_bin
from aloft_testing.processes import GrpcTls, wait_for
from aloft_testing.servers import free_port, port_open
from aloft_testing.stack import Stack, stack_config, stack_ports

HERE = Path(__file__).resolve().parent
SERVICES = ("datacatalog", "admin", "propeller")
SECRETS = {"flytepropeller": "propeller-e2e-secret-1f2e", "ci-bot": "ci-bot-e2e-secret-9a8b"}
# admin's own client secret at the OIDC provider (kept in a file like the others; must not be logged either)
OIDC_CLIENT, OIDC_SECRET = "aloft-admin", "admin-at-the-provider-e2e-77c1"
OIDC_USER, OIDC_GROUP = "alice", "console-users"


@dataclass
class AuthStack(Stack):
    secret_files: dict[str, Path] = field(default_factory=dict)
    pki: Pki | None = None  # auth.mutualTls on: the services' certificates

    @property
    def service_credentials(self) -> grpc.ChannelCredentials | None:
        """What a service presents when mTLS is on (its certificate, trusting the CA)."""
        return self.tls.credentials() if self.tls is not None else None

    @property
    def admin_http(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin_http']}"

    @property
    def oidc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['oidc']}"

    def start_oidc_provider(self) -> None:
        argv = [sys.executable, "-m", "aloft_testing.oidc", "--port", str(self.ports["oidc"])]
        argv += ["--client-id", OIDC_CLIENT, "--client-secret", OIDC_SECRET]
        argv += ["--redirect-uri", f"{self.admin_http}/callback", "--user", OIDC_USER, "--groups", OIDC_GROUP]
        proc = self.spawn("oidc", argv)

        def listening() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited:\n{self.log('oidc')[-3000:]}")
            return port_open("127.0.0.1", self.ports["oidc"])

        wait_for(listening, 30, "the OIDC provider", interval=0.1)

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
        bin_dir = self.venv / "bin"
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
    config = stack_config(root, ports, {"workflow-reeval-duration": "1s", "downstream-eval-duration": "1s"})
    return {
        **config,
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
    ports = {**stack_ports(SERVICES), "oidc": free_port()}
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
    tls = GrpcTls(pki.ca, pki.cert, pki.key) if pki is not None else None
    # flytekit_bin() fails naming the fix when the flytekit virtualenv is missing
    stack = AuthStack.create(root, flytekit_bin().parent, HERE, config, ports, tls=tls)
    stack.secret_files, stack.pki = secret_files, pki
    try:
        if not mutual_tls:  # the browser login test's provider
            stack.start_oidc_provider()
        stack.start_all(SERVICES)
        yield stack
    finally:
        stack.stop_all()
