"""What ``aloft up`` needs to know about the stack, read from the shared config file.

The supervisor never imports a service package: it reads only the listening keys of each service's section
(``<section>.host/grpcPort/httpPort``) and ``stack.dataDir``, after the same ``ALOFT__`` environment overrides the
services apply. Each service validates its own sections strictly when it starts (``check-config``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aloft_config import ConfigError, load_raw


@dataclass(frozen=True)
class ServiceSpec:
    """A service the stack can run: its console script, config section and default ports."""

    name: str
    section: str
    default_grpc_port: int
    default_http_port: int

    @property
    def executable(self) -> str:
        return f"aloft-{self.name}"


# Start order: datacatalog and admin before propeller, which reports events to admin and caches in datacatalog;
# the scheduler (a client of admin) last.
SERVICES: dict[str, ServiceSpec] = {
    "datacatalog": ServiceSpec("datacatalog", "datacatalog", 8090, 8091),
    "admin": ServiceSpec("admin", "admin", 8089, 8088),
    "propeller": ServiceSpec("propeller", "propeller", 8092, 10254),
    "scheduler": ServiceSpec("scheduler", "scheduler", 8093, 10255),
}
DEFAULT_SERVICES = tuple(SERVICES)


@dataclass(frozen=True)
class Endpoint:
    spec: ServiceSpec
    host: str
    grpc_port: int
    http_port: int

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.http_port}"


@dataclass(frozen=True)
class StackPlan:
    config_path: Path | None
    data_dir: Path
    endpoints: list[Endpoint]

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def _get(section: Mapping[str, Any], key: str, default: Any) -> Any:
    """A key as the services match it: case, '-' and '_' do not matter (env overrides may spell it either way)."""

    def norm(text: str) -> str:
        return text.replace("-", "").replace("_", "").lower()

    return next((v for k, v in section.items() if norm(str(k)) == norm(key)), default)


def _port(section: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = _get(section, key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(f"{where}.{key}: expected a port number 0-65535 (got {value!r})")
    return value


def _section(tree: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = tree.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected a mapping of keys (got {value!r})")
    return value


def parse_services(text: str) -> list[str]:
    """``admin,datacatalog`` → names in start order; unknown names are an error."""
    wanted = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in SERVICES]
    if unknown or not wanted:
        bad = unknown[0] if unknown else text
        raise ConfigError(f"--services: unknown service {bad!r} (choose from {', '.join(SERVICES)})")
    return [n for n in SERVICES if n in wanted]


def plan_stack(
    config_path: str | os.PathLike[str] | None,
    services: list[str],
    environ: Mapping[str, str] | None = None,
) -> StackPlan:
    tree = load_raw(config_path, environ)
    stack = _section(tree, "stack")
    data_dir = Path(str(_get(stack, "dataDir", ".aloft"))).expanduser().resolve()
    endpoints = []
    for name in services:
        spec = SERVICES[name]
        section = _section(tree, spec.section)
        host = str(_get(section, "host", "127.0.0.1"))
        endpoints.append(
            Endpoint(
                spec,
                host,
                _port(section, "grpcPort", spec.default_grpc_port, spec.section),
                _port(section, "httpPort", spec.default_http_port, spec.section),
            )
        )
    path = Path(config_path).resolve() if config_path is not None else None
    return StackPlan(path, data_dir, endpoints)
