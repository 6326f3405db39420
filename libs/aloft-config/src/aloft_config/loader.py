"""Load, override and validate the Aloft YAML configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from aloft_config.redaction import MASK, is_secret_name, redact, redact_text

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
        "manager",
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
        "namespace_mapping",
        "externalEvents",
        "qualityOfService",
        "queues",
        "event",
        "secrets",
        "server",
    }
)

T = TypeVar("T", bound=BaseModel)


class ConfigError(Exception):
    """The configuration is unusable; the message names the offending key."""


def _normalize(key: str) -> str:
    return key.replace("-", "").replace("_", "").lower()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The config model behind a field annotation (``Model``, ``Model | None``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _field_key(model: type[BaseModel] | None, part: str) -> tuple[str | None, type[BaseModel] | None]:
    """The spelling a model uses for an env-override path part, and the model of that field's value."""
    if model is None:
        return None, None
    for name, field in model.model_fields.items():
        spellings = [s for s in (field.alias, name) if s]
        if any(_normalize(s) == _normalize(part) for s in spellings):
            return spellings[0], _model_of(field.annotation)
    return None, None


def _apply_env_override(
    tree: dict[str, Any], path: list[str], raw_value: str, model: type[BaseModel] | None = None
) -> None:
    """Set one override. Keys match existing ones loosely; new keys take the model's spelling when known."""
    node = tree
    for i, part in enumerate(path):
        known, model = _field_key(model, part)
        match = next((k for k in node if _normalize(k) == _normalize(part)), None)
        key = match if match is not None else (known or part.lower())
        if i == len(path) - 1:
            node[key] = yaml.safe_load(raw_value) if raw_value != "" else ""
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child


def load_raw(
    path: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """Read the YAML file (if any) and apply ``ALOFT__A__B=value`` overrides (values parsed as YAML).

    ``model`` (a service's root config model) gives keys that the file does not already hold their proper spelling.
    """
    tree: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {str(file)!r} does not exist")
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(file)!r} is not valid YAML: {_yaml_problem(exc)}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(file)!r} must hold a mapping of sections at the top level")
        tree = loaded
    env = os.environ if environ is None else environ
    for name, value in sorted(env.items()):
        if name.startswith(ENV_PREFIX):
            parts = [p for p in name[len(ENV_PREFIX) :].split("__") if p]
            if parts:
                _apply_env_override(tree, parts, value, model)
    unknown = sorted(k for k in tree if k not in KNOWN_SECTIONS)
    if unknown:
        known = ", ".join(sorted(KNOWN_SECTIONS))
        raise ConfigError(f"unknown config section {unknown[0]!r} (known sections: {known})")
    return tree


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, without PyYAML's snippet of the offending line (it may hold a password)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context or 'syntax error'}{where}"
    return redact_text(str(exc))


def _shown_input(err: Any) -> str:
    """The offending value for the message, with secrets masked (by key name and in DSNs)."""
    if err["loc"] and is_secret_name(err["loc"][-1]):
        return MASK
    return repr(redact(err.get("input")))


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        else:
            lines.append(f"{key}: {redact_text(err['msg'])} (got {_shown_input(err)})")
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
    tree = load_raw(path, environ, model)
    wanted = _section_names(model)
    relevant = {k: v for k, v in tree.items() if k in wanted}
    try:
        return model.model_validate(relevant)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
