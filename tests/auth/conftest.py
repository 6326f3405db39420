"""The stack with ``auth.enabled`` as real processes: admin (its own authorization server), datacatalog and propeller
authenticating to each other with client credentials, unmodified flytekit (ClientSecret) as the user, and the test
OpenID Connect provider (aloft_testing.oidc) through which browser users (alice) log in to the console."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import grpc
import pytest
import yaml
from flyteidl.core import execution_pb2
from playwright.sync_api import Browser, BrowserContext, Page

from aloft_testing.browser import PageErrors, launched_chromium
from aloft_testing.browser_login import browser_command
from aloft_testing.certs import Pki, make_pki, token_signing_key
from aloft_testing.flytekit import flytekit_bin, flytekit_python
from aloft_testing.processes import GrpcTls, wait_for
from aloft_testing.servers import free_port, port_open
from aloft_testing.stack import Stack, stack_config, stack_ports

HERE = Path(__file__).resolve().parent
SERVICES = ("datacatalog", "admin", "propeller")
PROJECT, DOMAIN = "flytesnacks", "development"  # where flows/ is registered
# Chromium reports each refused fetch as a console error; those the console tests provoke (401 before the login, the
# forged calls' 403) are expected.
EXPECTED_REFUSALS = re.compile(r"Failed to load resource: the server responded with a status of (401|403)")
SECRETS = {"flytepropeller": "propeller-e2e-secret-1f2e", "ci-bot": "ci-bot-e2e-secret-9a8b"}
# admin's own client secret at the OIDC provider (kept in a file like the others; must not be logged either)
OIDC_CLIENT, OIDC_SECRET = "aloft-admin", "admin-at-the-provider-e2e-77c1"
OIDC_USER, OIDC_GROUP = "alice", "console-users"
# The public client flytekit's and aloftctl's PKCE logins use (its redirect URI's port is picked per stack).
CLI_CLIENT = "flytectl"
# External mode: the audience admin accepts, and a client of the same provider whose tokens are for another API
API_AUDIENCE, OTHER_API_CLIENT, OTHER_AUDIENCE = "https://aloft.example/api", "other-api", "https://other.example/api"


@dataclass
class CliLogin:
    config: Path
    listed: subprocess.CompletedProcess[str]  # the command that logged in
    logins_before: int  # browser logins before it
    logins: list[dict[str, Any]]  # the browser logins it made


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
    def pkce_redirect_uri(self) -> str:
        return f"http://localhost:{self.ports['pkce_callback']}/callback"

    @property
    def oidc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['oidc']}"

    def start_oidc_provider(self, *extra: str) -> None:
        argv = [sys.executable, "-m", "aloft_testing.oidc", "--port", str(self.ports["oidc"])]
        argv += ["--client-id", OIDC_CLIENT, "--client-secret", OIDC_SECRET]
        argv += ["--redirect-uri", f"{self.admin_http}/callback", "--user", OIDC_USER, "--groups", OIDC_GROUP]
        argv += extra
        self._wait_listening("oidc", self.spawn("oidc", argv), timeout=30)

    def _wait_listening(self, name: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """Until process ``name`` accepts connections on its port (``ports[name]``); fails with its log if it exits."""

        def listening() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log(name)[-3000:]}")
            return port_open("127.0.0.1", self.ports[name])

        wait_for(listening, timeout, name, interval=0.1)

    @property
    def console_url(self) -> str:
        """The standalone console's origin (another port of the same host: another origin, the same site)."""
        return f"http://127.0.0.1:{self.ports['console']}"

    def start_console(self) -> None:
        argv = [str(Path(sys.executable).parent / "aloft-console"), "--config", str(self.config_file), "serve"]
        self._wait_listening("console", self.spawn("console", argv), timeout=60)

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

    def pkce_config(self) -> Path:
        """flytekit's and flytectl's config for a user's browser login (authType Pkce: the client id and redirect
        URI come from admin's GetPublicClientConfig)."""
        return self.cli_config("pkce", "Pkce")

    def cli_config(self, name: str, auth_type: str, **admin: Any) -> Path:
        """A user's flytekit / flytectl (aloftctl) config ``<root>/<name>.yaml``: admin's gRPC port in plain text,
        ``authType`` and more keys of its ``admin`` section (``tokenCacheFile``, ``pkceConfig``: aloftctl's)."""
        path = self.root / f"{name}.yaml"
        endpoint = f"dns:///127.0.0.1:{self.ports['admin_grpc']}"
        section = {"endpoint": endpoint, "insecure": True, "authType": auth_type, **admin}
        path.write_text(yaml.safe_dump({"admin": section}))
        return path

    def browser_env(self) -> dict[str, str]:
        """$BROWSER runs headless Chromium logging in through the provider (aloft_testing.browser_login); tokens
        kept by flytekit go to a file keyring under this stack's root, never the user's."""
        return {
            **os.environ,
            "BROWSER": browser_command(self.browser_log),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(self.root / "xdg-data"),
        }

    @property
    def browser_log(self) -> Path:
        return self.root / "browser-logins.jsonl"

    def browser_logins(self) -> list[dict[str, Any]]:
        """Every $BROWSER login so far (aloft_testing.browser_login's log): opened, navigations, final."""
        log = self.browser_log
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []

    def keyring(self, action: str, key: str, value: str = "", data_home: Path | None = None) -> str:
        """Read (get) or overwrite (set) one of flytekit's cached credentials, through keyring as flytekit does
        (``data_home``: another file keyring than the browser logins')."""
        env = self.browser_env() if data_home is None else {**self.browser_env(), "XDG_DATA_HOME": str(data_home)}
        endpoint = f"127.0.0.1:{self.ports['admin_grpc']}"
        code = (
            "import keyring, sys\n"
            f"if {action!r} == 'set': keyring.set_password({endpoint!r}, {key!r}, {value!r})\n"
            f"else: sys.stdout.write(keyring.get_password({endpoint!r}, {key!r}) or '')\n"
        )
        done = subprocess.run([str(flytekit_python()), "-c", code], env=env, capture_output=True, text=True, check=True)
        return done.stdout

    def aloftctl_pkce_login(self, cache: Path) -> CliLogin:
        """aloftctl's first Pkce login, for ``get projects``, through $BROWSER; its tokens cached in ``cache``."""
        pkce = {"timeout": "2m", "refreshTime": "5m"}
        config = self.cli_config("aloftctl-pkce", "Pkce", pkceConfig=pkce, tokenCacheFile=str(cache))
        before = len(self.browser_logins())
        listed = self.aloftctl(config, "get", "projects")
        assert listed.returncode == 0, listed.stderr + json.dumps(self.browser_logins()[before:])[-3000:]
        assert "flytesnacks" in listed.stdout
        return CliLogin(config, listed, before, self.browser_logins()[before:])

    def aloftctl(self, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """aloftctl with ``config``, logging in through $BROWSER when its authType asks for a browser."""
        command = [str(Path(sys.executable).parent / "aloftctl"), "--config", str(config), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False, env=self.browser_env())

    def flytekit(
        self, client_id: str, *args: str, tool: str = "pyflyte", config: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        bin_dir = self.venv / "bin"
        config = config or self.flytekit_config(client_id)
        command = [str(bin_dir / "pyflyte"), "--config", str(config), *args]
        if tool == "driver":
            command = [str(bin_dir / "python"), str(HERE / "driver.py"), str(config), *args]
        env = self.browser_env() if client_id == CLI_CLIENT else None
        return subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=300, check=False, env=env)

    def register_flows(
        self, client_id: str, version: str, config: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``pyflyte register`` of flows/ in flytesnacks/development as ``version``."""
        return self.flytekit(
            client_id,
            "register",
            "--project",
            PROJECT,
            "--domain",
            DOMAIN,
            "--version",
            version,
            "flows",
            config=config,
        )

    def registered_version(self, prefix: str) -> str:
        """flows/ registered by ci-bot under a new version ``<prefix>-…``."""
        version = f"{prefix}-{uuid.uuid4().hex[:8]}"
        result = self.register_flows("ci-bot", version)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return version

    def run_as_user(self, version: str, x: int) -> dict[str, Any]:
        """flows.secured.squares(x) run by flytekit with the user's Pkce config (its keyring, else $BROWSER)."""
        ran = self.flytekit(CLI_CLIENT, "run", version, str(x), tool="driver", config=self.pkce_config())
        assert ran.returncode == 0, ran.stderr[-3000:] + self.log("admin")[-2000:]
        result: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
        assert result["phase"] == execution_pb2.WorkflowExecution.SUCCEEDED, result
        return result


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
    redirect_uri = f"http://localhost:{ports['pkce_callback']}/callback"
    clients[CLI_CLIENT] = {
        "id": CLI_CLIENT,
        "public": True,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scopes": ["all", "offline"],
    }
    config = stack_config(root, ports, {"workflow-reeval-duration": "1s", "downstream-eval-duration": "1s"})
    return {
        **config,
        # The one block that turns auth on for every service.
        "auth": {
            "enabled": True,
            "authorizedUris": [admin_http],
            "appAuth": {
                # one key per test session (aloft_testing.certs), not one made by each admin start
                "selfAuthServer": {"staticClients": clients, "tokenSigningRSAKeyFile": str(token_signing_key())},
                "thirdPartyConfig": {"flyteClient": {"clientId": CLI_CLIENT, "redirectUri": redirect_uri}},
            },
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
                # alice registers and runs from the command line too (PKCE logins): ci's rights in flytesnacks
                "subjects": {"flytepropeller": ["platform"], "ci-bot": ["ci"], OIDC_USER: ["ci"]},
                "groups": {OIDC_GROUP: ["console"]},
            },
        },
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@dataclass
class ConsolePage:
    """A console user's page in a fresh browser context: the errors it logs, the addresses it navigates to."""

    context: BrowserContext
    page: Page
    errors: PageErrors
    navigations: list[str]

    def unexpected_errors(self, messages: list[str] | None = None, other_page: str = "") -> list[str]:
        """The errors logged (``messages``; default, all so far) but the refused fetches the tests provoke (401
        before the login, the forged calls' 403) and, with ``other_page``, those naming that address."""
        logged = self.errors.messages if messages is None else messages
        return [m for m in logged if not EXPECTED_REFUSALS.search(m) and not (other_page and other_page in m)]


@pytest.fixture
def console_page(browser: Browser) -> Iterator[ConsolePage]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    navigations: list[str] = []
    opened = ConsolePage(context, page, PageErrors(page), navigations)
    page.on("request", lambda r: navigations.append(r.url) if r.is_navigation_request() else None)
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(scope="module")
def auth_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    with _started_stack(tmp_path_factory.mktemp("auth-stack"), mutual_tls=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def cross_origin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    """The stack with the standalone console on its own origin: admin allows it (and only it) CORS with
    credentials through Flyte's ``server.security`` block, and redirects logins back to it (authorizedUris)."""
    with _started_stack(tmp_path_factory.mktemp("cross-origin-stack"), mutual_tls=False, console=True) as stack:
        yield stack


@pytest.fixture(scope="module")
def mtls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    """The same stack with ``auth.mutualTls`` on: every gRPC port speaks TLS, datacatalog and propeller require
    the services' client certificate."""
    with _started_stack(tmp_path_factory.mktemp("mtls-stack"), mutual_tls=True) as stack:
        yield stack


@pytest.fixture(scope="module")
def external_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    """The stack with ``appAuth.authServerType: External``: the test OIDC provider is the authorization server of
    users (PKCE and the device flow, public client), services (client credentials) and admin's console login."""
    with _started_stack(tmp_path_factory.mktemp("external-stack"), mutual_tls=False, external=True) as stack:
        yield stack


def _external_mode(config: dict[str, Any], root: Path, ports: dict[str, int], secret_files: dict[str, Path]) -> Path:
    """Switch the config to External mode; the provider's clients file (flytectl, the services, other-api)."""
    redirect_uri = f"http://localhost:{ports['pkce_callback']}/callback"
    app_auth = config["auth"]["appAuth"]
    del app_auth["selfAuthServer"]
    app_auth["authServerType"] = "External"
    app_auth["externalAuthServer"] = {"baseUrl": f"http://127.0.0.1:{ports['oidc']}", "allowedAudience": [API_AUDIENCE]}
    services = [{"id": name, "secret_file": str(secret_files[name])} for name in (*SECRETS, OTHER_API_CLIENT)]
    for client in services:
        client["grant_types"] = ["client_credentials"]
    services[-1]["audience"] = OTHER_AUDIENCE
    grants = ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"]
    cli = {"id": CLI_CLIENT, "redirect_uris": [redirect_uri], "grant_types": grants}
    path = root / "oidc-clients.json"
    path.write_text(json.dumps([cli, *services]))
    return path


@contextmanager
def _started_stack(root: Path, mutual_tls: bool, console: bool = False, external: bool = False) -> Iterator[AuthStack]:
    ports = {**stack_ports(SERVICES), "oidc": free_port(), "pkce_callback": free_port()}
    secret_files = {}
    other = {OTHER_API_CLIENT: "other-api-e2e-secret-5d3c"} if external else {}
    for name, secret in {**SECRETS, OIDC_CLIENT: OIDC_SECRET, **other}.items():
        path = root / f"{name}.secret"
        path.write_text(secret + "\n")
        path.chmod(0o600)
        secret_files[name] = path
    config = _config(root, ports, secret_files)
    provider_args: list[str] = []
    if external:
        clients = _external_mode(config, root, ports, secret_files)
        provider_args = ["--clients", str(clients), "--audience", API_AUDIENCE, "--device-interval", "1"]
    if console:
        ports["console"] = free_port()
        console_url = f"http://127.0.0.1:{ports['console']}"
        config["console"] = {"httpPort": ports["console"], "adminEndpoint": config["auth"]["authorizedUris"][0]}
        config["auth"]["authorizedUris"].append(console_url)
        config["server"] = {"security": {"allowCors": True, "allowedOrigins": [console_url]}}
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
            stack.start_oidc_provider(*provider_args)
        stack.start_all(SERVICES)
        if console:
            stack.start_console()
        yield stack
    finally:
        stack.stop_all()
