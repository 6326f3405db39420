"""Where aloftctl finds admin: flytectl's config file format and lookup order.

Order: ``--config FILE``, then ``$FLYTECTL_CONFIG``, then ``~/.flyte/config.yaml``, then environment variables
(``FLYTE_PLATFORM_URL``, ``FLYTE_PLATFORM_INSECURE``, ``FLYTE_CREDENTIALS_*`` as flytekit reads them), then
``localhost:8089`` insecure (the local stack ``aloft up`` starts). The file keys are flytectl's: ``admin.endpoint``
(``dns:///host:port``, ``host:port`` or ``https://host``), ``admin.insecure``, ``admin.authType``, ``admin.clientId``,
``admin.clientSecretLocation``, ``admin.caCertFilePath``, ``admin.scopes``, ``admin.pkceConfig.timeout`` (how long
the browser login may take) and ``admin.pkceConfig.refreshTime`` (renew a token this long before it expires); with
``authType: DeviceFlow``, ``admin.deviceFlowConfig`` has the same ``timeout`` and ``refreshTime`` and ``pollInterval``
(used when the authorization server names no interval); top-level
``project`` / ``domain`` give defaults for ``-p`` / ``-d``. ``admin.tokenCacheFile`` (Aloft's) says where browser
logins' tokens are kept (default ``$XDG_CACHE_HOME/aloftctl/tokens.json``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aloftctl.yamlfile import load_mapping

DEFAULT_ENDPOINT = "localhost:8089"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_LOGIN_TIMEOUT_SECONDS = 120.0  # pkceConfig.timeout
DEFAULT_REFRESH_SECONDS = 300.0  # pkceConfig.refreshTime
DEFAULT_DEVICE_TIMEOUT_SECONDS = 600.0  # deviceFlowConfig.timeout (flytectl's default)
DEFAULT_POLL_SECONDS = 5.0  # deviceFlowConfig.pollInterval
AUTH_TYPES = ("", "ClientSecret", "Pkce", "ExternalCommand", "DeviceFlow")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key or file is wrong."""


@dataclass(frozen=True)
class ClientConfig:
    endpoint: str = DEFAULT_ENDPOINT
    insecure: bool = True
    auth_type: str = ""
    client_id: str = ""
    client_secret_location: str = ""
    client_secret: str = ""
    ca_cert_file_path: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    scopes: tuple[str, ...] = ()  # "" = the scopes admin's GetPublicClientConfig names
    login_timeout: float = DEFAULT_LOGIN_TIMEOUT_SECONDS
    refresh_before: float = DEFAULT_REFRESH_SECONDS
    poll_interval: float = DEFAULT_POLL_SECONDS  # DeviceFlow
    token_cache_file: str = ""
    project: str = ""
    domain: str = ""
    source: str = "defaults"

    @property
    def target(self) -> str:
        """The gRPC target (``host:port``) for the endpoint in any of flytectl's spellings."""
        return normalize_endpoint(self.endpoint)[0]

    def read_client_secret(self) -> str:
        if self.client_secret:
            return self.client_secret
        if not self.client_secret_location:
            raise ConfigError("admin.authType ClientSecret needs admin.clientSecretLocation (a file with the secret)")
        try:
            return Path(self.client_secret_location).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(f"admin.clientSecretLocation: cannot read {self.client_secret_location}: {exc}") from exc


def normalize_endpoint(endpoint: str) -> tuple[str, bool | None]:
    """``dns:///h:p`` / ``h:p`` / ``https://h`` → (``h:p``, insecure implied by the scheme or None)."""
    value = endpoint.strip()
    implied: bool | None = None
    if value.startswith("dns:///"):
        value = value[len("dns:///") :]
    elif value.startswith("https://"):
        value, implied = value[len("https://") :], False
    elif value.startswith("http://"):
        value, implied = value[len("http://") :], True
    value = value.rstrip("/")
    if not value:
        raise ConfigError("admin.endpoint is empty")
    if ":" not in value.rsplit("]", 1)[-1]:
        value += ":443" if implied is False else ":80" if implied else ""
    return value, implied


def default_token_cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "aloftctl" / "tokens.json"


def parse_seconds(value: Any, key: str) -> float:
    """flytectl's durations (``30s``, ``2m``, ``1h``, ``500ms``) or plain seconds."""
    text = str(value).strip()
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        for suffix in ("ms", "s", "m", "h"):
            if text.endswith(suffix):
                return float(text[: -len(suffix)]) * units[suffix]
        return float(text)
    except ValueError as exc:
        raise ConfigError(f"{key}: expected a duration like 30s, 2m or 1h, got {value!r}") from exc


def default_config_path() -> Path:
    return Path.home() / ".flyte" / "config.yaml"


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no", ""):
        return value.strip().lower() in ("true", "1", "yes")
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _from_file(path: Path) -> ClientConfig:
    raw = load_mapping(path, "config file", ConfigError)
    admin = raw.get("admin") or {}
    if not isinstance(admin, dict):
        raise ConfigError(f"{path}: admin: expected a mapping")
    auth_type = str(admin.get("authType", "") or "")
    if auth_type and auth_type not in AUTH_TYPES:
        raise ConfigError(f"{path}: admin.authType: unknown {auth_type!r} (one of {', '.join(AUTH_TYPES[1:])})")
    endpoint = str(admin.get("endpoint") or DEFAULT_ENDPOINT)
    implied = normalize_endpoint(endpoint)[1]
    insecure_default = implied if implied is not None else False
    timeout = admin.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    try:
        timeout_seconds = float(str(timeout).rstrip("s"))
    except ValueError as exc:
        raise ConfigError(f"{path}: admin.timeout: expected seconds like 30 or 30s, got {timeout!r}") from exc
    # the people's login's block: flytectl's pkceConfig, or deviceFlowConfig for the device flow
    block = "deviceFlowConfig" if auth_type == "DeviceFlow" else "pkceConfig"
    login = admin.get(block) or {}
    if not isinstance(login, dict):
        raise ConfigError(f"{path}: admin.{block}: expected a mapping")
    default_timeout = DEFAULT_DEVICE_TIMEOUT_SECONDS if auth_type == "DeviceFlow" else DEFAULT_LOGIN_TIMEOUT_SECONDS
    scopes = admin.get("scopes") or []
    if not isinstance(scopes, list):
        raise ConfigError(f"{path}: admin.scopes: expected a list")
    return ClientConfig(
        endpoint=endpoint,
        insecure=_as_bool(admin.get("insecure", insecure_default), "admin.insecure"),
        auth_type=auth_type,
        client_id=str(admin.get("clientId", "") or ""),
        client_secret_location=str(admin.get("clientSecretLocation", "") or ""),
        ca_cert_file_path=str(admin.get("caCertFilePath", "") or ""),
        timeout=timeout_seconds,
        scopes=tuple(str(s) for s in scopes),
        login_timeout=parse_seconds(login.get("timeout", default_timeout), f"admin.{block}.timeout"),
        refresh_before=parse_seconds(login.get("refreshTime", DEFAULT_REFRESH_SECONDS), f"admin.{block}.refreshTime"),
        poll_interval=parse_seconds(login.get("pollInterval", DEFAULT_POLL_SECONDS), f"admin.{block}.pollInterval"),
        token_cache_file=str(admin.get("tokenCacheFile", "") or ""),
        project=str(raw.get("project", "") or ""),
        domain=str(raw.get("domain", "") or ""),
        source=str(path),
    )


def _from_environment(env: dict[str, str]) -> ClientConfig | None:
    endpoint = env.get("FLYTE_PLATFORM_URL", "")
    if not endpoint:
        return None
    implied = normalize_endpoint(endpoint)[1]
    insecure = env.get("FLYTE_PLATFORM_INSECURE")
    client_id = env.get("FLYTE_CREDENTIALS_CLIENT_ID", "")
    return ClientConfig(
        endpoint=endpoint,
        insecure=_as_bool(insecure, "FLYTE_PLATFORM_INSECURE") if insecure is not None else bool(implied),
        auth_type="ClientSecret" if client_id else "",
        client_id=client_id,
        client_secret=env.get("FLYTE_CREDENTIALS_CLIENT_SECRET", ""),
        client_secret_location=env.get("FLYTE_CREDENTIALS_CLIENT_SECRET_FROM_FILE", ""),
        ca_cert_file_path=env.get("FLYTE_PLATFORM_CA_CERT_FILE_PATH", ""),
        project=env.get("FLYTE_DEFAULT_PROJECT", ""),
        domain=env.get("FLYTE_DEFAULT_DOMAIN", ""),
        source="environment",
    )


def resolve(
    config_file: str | None, env: dict[str, str] | None = None, home_config: Path | None = None
) -> ClientConfig:
    """The configuration in flytectl's order (see the module docstring)."""
    environ = dict(os.environ) if env is None else env
    if config_file:
        path = Path(config_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {config_file} does not exist")
        return _from_file(path)
    if environ.get("FLYTECTL_CONFIG"):
        return resolve(environ["FLYTECTL_CONFIG"], environ, home_config)
    home = home_config if home_config is not None else default_config_path()
    if home.is_file():
        return _from_file(home)
    return _from_environment(environ) or ClientConfig()


def init_config_text(host: str, insecure: bool | None) -> str:
    """What ``config init --host`` writes: flytectl's file with the endpoint in ``dns:///`` form."""
    target, implied = normalize_endpoint(host)
    local = target.split(":")[0] in ("localhost", "127.0.0.1", "0.0.0.0")
    resolved_insecure = insecure if insecure is not None else (implied if implied is not None else local)
    admin: dict[str, Any] = {"endpoint": f"dns:///{target}", "insecure": resolved_insecure}
    if not resolved_insecure:
        admin["authType"] = "Pkce"
    document = {"admin": admin, "logger": {"show-source": True, "level": 0}}
    return yaml.safe_dump(document, sort_keys=False)
