"""Load, override and validate the Aloft YAML configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ENV_PREFIX = "ALOFT__"

# Every top-level section any Aloft component understands. A service validates only the sections it
# declares, but a section no component knows is a typo and is refused everywhere.
KNOWN_SECTIONS = frozenset(
    {
        "admin",
        "auth",
        "cluster_resources",
        "clusters",
        "console",
        "database",
        "datacatalog",
        "domains",
        "logger",
        "otel",
        "plugins",
        "propeller",
        "resourcemanager",
        "stack",
        "storage",
        "task_resources",
        "tasks",
        "webhook",
        "catalog-cache",
        "remoteData",
        "scheduler",
        "notifications",
        "cloudEvents",
        "externalEvents",
        "qualityOfService",
        "queues",
        "event",
        "secrets",
    }
)

T = TypeVar("T", bound=BaseModel)


class ConfigError(Exception):
    """The configuration is unusable; the message names the offending key."""


def _normalize(key: str) -> str:
    return key.replace("-", "").replace("_", "").lower()


def _apply_env_override(tree: dict[str, Any], path: list[str], raw_value: str) -> None:
    node = tree
    for i, part in enumerate(path):
        match = next((k for k in node if _normalize(k) == _normalize(part)), None)
        last = i == len(path) - 1
        key = match if match is not None else part.lower()
        if last:
            node[key] = yaml.safe_load(raw_value) if raw_value != "" else ""
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child


def load_raw(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the YAML file (if any) and apply ``ALOFT__A__B=value`` overrides (values parsed as YAML)."""
    tree: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {str(file)!r} does not exist")
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(file)!r} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(file)!r} must hold a mapping of sections at the top level")
        tree = loaded
    env = os.environ if environ is None else environ
    for name, value in sorted(env.items()):
        if name.startswith(ENV_PREFIX):
            parts = [p for p in name[len(ENV_PREFIX) :].split("__") if p]
            if parts:
                _apply_env_override(tree, parts, value)
    unknown = sorted(k for k in tree if k not in KNOWN_SECTIONS)
    if unknown:
        known = ", ".join(sorted(KNOWN_SECTIONS))
        raise ConfigError(f"unknown config section {unknown[0]!r} (known sections: {known})")
    return tree


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        else:
            lines.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _section_names(model: type[BaseModel]) -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        names.add(field.alias or name)
    return names


def load_config(
    path: str | os.PathLike[str] | None,
    model: type[T],
    environ: Mapping[str, str] | None = None,
) -> T:
    """Load the file and validate the sections this service's root model declares.

    Sections of other components are left alone (they are checked by the component that reads them);
    every declared section is validated strictly.
    """
    tree = load_raw(path, environ)
    wanted = _section_names(model)
    relevant = {k: v for k, v in tree.items() if k in wanted}
    try:
        return model.model_validate(relevant)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
