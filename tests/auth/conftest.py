"""The stack with ``auth.enabled`` as real processes (aloft_testing.stack, without the scheduler): admin (its own
authorization server), datacatalog and propeller authenticating to each other with client credentials, and
unmodified flytekit (ClientSecret) as the user."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from aloft_testing.flytekit import flytekit_bin
from aloft_testing.stack import Stack, stack_config, stack_ports

HERE = Path(__file__).resolve().parent
SERVICES = ("datacatalog", "admin", "propeller")
SECRETS = {"flytepropeller": "propeller-e2e-secret-1f2e", "ci-bot": "ci-bot-e2e-secret-9a8b"}
PROPELLER = {"workflow-reeval-duration": "1s", "downstream-eval-duration": "1s"}


class AuthStack(Stack):
    """The stack plus each OAuth2 client's secret file; flytekit runs as one of the clients."""

    secret_files: dict[str, Path]

    @property
    def admin_http(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin_http']}"

    def flytekit_config(self, client_id: str) -> Path:
        return self.client_secret_config(client_id, self.secret_files[client_id])

    def flytekit(self, client_id: str, *args: str, tool: str = "pyflyte") -> subprocess.CompletedProcess[str]:
        """``pyflyte`` (or ``driver.py``) as ``client_id``; the caller reads the return code."""
        config = self.flytekit_config(client_id)
        if tool != "driver":
            return self.pyflyte(*args, config=config)
        command = [str(self.venv / "bin" / "python"), str(HERE / "driver.py"), str(config), *args]
        return subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=300, check=False)


def _auth_section(admin_http: str, secret_files: dict[str, Path]) -> dict[str, Any]:
    """The one block that turns auth on for every service: admin's static clients, propeller's identity, roles."""
    clients = {
        name: {
            "id": name,
            "client_secret": bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4)).decode(),
            "grant_types": ["client_credentials"],
        }
        for name, secret in SECRETS.items()
    }
    ci_permissions = [
        "tasks:*",
        "workflows:*",
        "launchplans:*",
        "executions:*",
        "entities:read",
        "data:*",
        "projects:read",
    ]
    return {
        "enabled": True,
        "authorizedUris": [admin_http],
        "appAuth": {"selfAuthServer": {"staticClients": clients}},
        "internal": {"clientId": "flytepropeller", "clientSecretLocation": str(secret_files["flytepropeller"])},
        "rbac": {
            "roles": {
                "platform": {"permissions": ["*"], "projects": ["*"]},
                "ci": {"permissions": ci_permissions, "projects": ["flytesnacks"]},
            },
            "subjects": {"flytepropeller": ["platform"], "ci-bot": ["ci"]},
        },
    }


def _secret_files(root: Path) -> dict[str, Path]:
    files = {}
    for name, secret in SECRETS.items():
        path = root / f"{name}.secret"
        path.write_text(secret + "\n")
        path.chmod(0o600)
        files[name] = path
    return files


@pytest.fixture(scope="module")
def auth_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    root = tmp_path_factory.mktemp("auth-stack")
    ports = stack_ports(SERVICES)
    secret_files = _secret_files(root)
    config = stack_config(root, ports, PROPELLER)
    config["auth"] = _auth_section(f"http://127.0.0.1:{ports['admin_http']}", secret_files)
    stack = AuthStack.create(root, flytekit_bin().parent, HERE, config, ports)
    stack.secret_files = secret_files
    with stack.running(SERVICES):
        yield stack
