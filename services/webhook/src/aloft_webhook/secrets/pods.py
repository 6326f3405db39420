"""Idempotent pod-spec edits shared by the injectors (adding what is already there changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
SECRETS_DIR = "/etc/flyte/secrets"
ENV_DEFAULT_DIR = "FLYTE_SECRETS_DEFAULT_DIR"
ENV_FILE_PREFIX = "FLYTE_SECRETS_FILE_PREFIX"
ENV_PREFIX = "FLYTE_SECRETS_ENV_PREFIX"
K8S_ENV_PREFIX = "_FSEC_"


def containers(pod: Obj, *, init: bool = True) -> list[Obj]:
    spec = pod.setdefault("spec", {})
    found: list[Obj] = list(spec.get("containers") or [])
    if init:
        found += list(spec.get("initContainers") or [])
    return found


def add_env(pod: Obj, var: Obj) -> None:
    """Add `var` to every container and init container that does not define that name yet."""
    for container in containers(pod):
        env = container.setdefault("env", [])
        if not any(e.get("name") == var["name"] for e in env):
            env.append(dict(var))


def add_volume_mount(pod: Obj, mount: Obj) -> None:
    for container in containers(pod):
        mounts = container.setdefault("volumeMounts", [])
        if not any(m.get("name") == mount["name"] for m in mounts):
            mounts.append(dict(mount))


def add_volume(pod: Obj, volume: Obj) -> None:
    volumes = pod["spec"].setdefault("volumes", [])
    if not any(v.get("name") == volume["name"] for v in volumes):
        volumes.append(volume)


def add_init_container(pod: Obj, container: Obj, identity: Callable[[Obj], Any]) -> None:
    """Append an init container unless one with the same image and identity exists (re-admission of a pod)."""
    inits = pod["spec"].setdefault("initContainers", [])
    for existing in inits:
        if existing.get("image") == container.get("image") and identity(existing) == identity(container):
            return
    inits.append(container)


def file_mount_env(pod: Obj, directory: str = SECRETS_DIR) -> None:
    add_env(pod, {"name": ENV_DEFAULT_DIR, "value": directory})
    add_env(pod, {"name": ENV_FILE_PREFIX, "value": ""})
