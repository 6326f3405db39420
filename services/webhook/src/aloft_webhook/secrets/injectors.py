"""One injector per secret manager (Flyte's behaviour, per the reference's "Secrets" page).

Each `inject(secret, pod)` edits the pod in place and returns True, returns False when it has nothing for that
secret (the next manager is tried), or raises `InjectionError` with a message the admission refusal carries.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from flyteidl.core.security_pb2 import Secret

from ..config import GlobalSecretsSection, SecretManagerType, SidecarManagerSection, VaultSecretManagerSection
from .pods import (
    ENV_PREFIX,
    K8S_ENV_PREFIX,
    SECRETS_DIR,
    Obj,
    add_env,
    add_init_container,
    add_volume,
    add_volume_mount,
    file_mount_env,
)
from .requests import describe

ANY, ENV_VAR, FILE = Secret.MountType.ANY, Secret.MountType.ENV_VAR, Secret.MountType.FILE


class InjectionError(ValueError):
    pass


class Injector(Protocol):
    kind: SecretManagerType

    def inject(self, secret: Secret, pod: Obj) -> bool: ...


def env_var_name(secret: Secret) -> str:
    return (K8S_ENV_PREFIX + secret.group + "_" + secret.key).upper()


def _require_group_and_key(secret: Secret, manager: str) -> None:
    if not secret.group or not secret.key:
        raise InjectionError(f"{manager} secrets require both key and group to be set: {describe(secret)}")


def _add_secret_env(pod: Obj, secret: Secret, value_or_source: Obj) -> None:
    add_env(pod, {"name": env_var_name(secret)} | value_or_source)
    if secret.env_var:  # a task may ask for its own variable name as well
        add_env(pod, {"name": secret.env_var} | value_or_source)
    add_env(pod, {"name": ENV_PREFIX, "value": K8S_ENV_PREFIX})


class GlobalSecrets:
    """Secrets mounted on the webhook itself (env `<env-prefix><GROUP>_<KEY>` or file `<prefix>/<group>/<key>`),
    injected as plain env values; they take precedence over every other manager."""

    kind = SecretManagerType.Global

    def __init__(self, config: GlobalSecretsSection, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)

    def lookup(self, secret: Secret) -> str | None:
        names = [f"{self.config.env_prefix}{secret.group}_{secret.key}"]
        names.append(names[0].upper())
        for name in names:
            if name in self.environ:
                return self.environ[name]
        base = Path(self.config.secrets_prefix)
        for path in (base / secret.group / secret.key, base / secret.group.lower() / secret.key.lower()):
            if path.is_file():
                return path.read_text().strip()
        return None

    def inject(self, secret: Secret, pod: Obj) -> bool:
        value = self.lookup(secret) if secret.group else None
        if value is None:
            return False
        if secret.mount_requirement == FILE:
            raise InjectionError(
                f"global secrets can only be injected as environment variables [{secret.group}/{secret.key}]"
            )
        _add_secret_env(pod, secret, {"value": value})
        return True


class K8sSecrets:
    """A Kubernetes secret named after the group, key = the secret key: env var from a secretKeyRef, or a file under
    /etc/flyte/secrets/<group>/<key> from a secret volume (the default for ANY)."""

    kind = SecretManagerType.K8s

    def inject(self, secret: Secret, pod: Obj) -> bool:
        _require_group_and_key(secret, "K8s")
        if secret.mount_requirement == ENV_VAR:
            ref = {"secretKeyRef": {"name": secret.group, "key": secret.key, "optional": True}}
            _add_secret_env(pod, secret, {"valueFrom": ref})
            return True
        # One volume per group: its items list every key requested from that secret.
        name = base64.b32encode(f"{secret.group}_{secret.group_version}".encode()).decode().lower().rstrip("=")
        item = {"key": secret.key, "path": secret.key.lower()}
        volumes = pod["spec"].setdefault("volumes", [])
        existing = next((v for v in volumes if (v.get("secret") or {}).get("secretName") == secret.group), None)
        if existing is None:
            volumes.append({"name": name, "secret": {"secretName": secret.group, "items": [item], "optional": True}})
        else:
            name = existing["name"]
            items = existing["secret"].setdefault("items", [])
            if item not in items:
                items.append(item)
        add_volume_mount(pod, {"name": name, "readOnly": True, "mountPath": f"{SECRETS_DIR}/{secret.group.lower()}"})
        file_mount_env(pod)
        return True


def _vault_id(secret: Secret) -> str:
    """Stable per secret (Flyte uses a random UUID): re-admitting a pod yields the same annotations."""
    return hashlib.sha256(f"{secret.group}\0{secret.key}\0{secret.group_version}".encode()).hexdigest()[:16]


class VaultSecrets:
    """Annotations for the Vault Agent Injector: files only, under /etc/flyte/secrets/<group>/<key>; the group is the
    Vault path; group_version kv1 / kv2 / db picks the template (db: none, the engine returns username+password)."""

    kind = SecretManagerType.Vault

    def __init__(self, config: VaultSecretManagerSection) -> None:
        self.config = config

    def inject(self, secret: Secret, pod: Obj) -> bool:
        _require_group_and_key(secret, "Vault")
        if secret.mount_requirement == ENV_VAR:
            raise InjectionError("Env_Var is not a supported mount requirement for Vault Secret Manager")
        file_mount_env(pod)
        ident = _vault_id(secret)
        annotations = {
            f"vault.hashicorp.com/agent-inject-secret-{ident}": secret.group,
            f"vault.hashicorp.com/agent-inject-file-{ident}": f"{secret.group}/{secret.key}",
        }
        query = {"kv1": ".Data", "kv2": ".Data.data", "db": ""}.get(secret.group_version)
        if query is None:  # no group_version: the deprecated kvVersion setting decides
            query = ".Data" if self.config.kvVersion == "1" else ".Data.data"
        if query:
            template = f'{{{{- with secret "{secret.group}" -}}}}{{{{ {query}.{secret.key} }}}}{{{{- end -}}}}'
            annotations[f"vault.hashicorp.com/agent-inject-template-{ident}"] = template
        common = {
            "vault.hashicorp.com/agent-inject": "true",
            "vault.hashicorp.com/secret-volume-path": SECRETS_DIR,
            "vault.hashicorp.com/role": self.config.role,
            "vault.hashicorp.com/agent-pre-populate-only": "true",
        }
        meta = pod.setdefault("metadata", {})
        # Precedence (lowest first): per-secret, common, configured extra annotations, the pod's own annotations.
        meta["annotations"] = annotations | common | dict(self.config.annotations) | dict(meta.get("annotations") or {})
        return True


class _SidecarSecrets:
    """A cloud SDK init container per secret writes it into a shared in-memory volume mounted on every container."""

    volume = ""
    manager = ""

    def __init__(self, config: SidecarManagerSection) -> None:
        self.config = config

    def _mount(self, pod: Obj, init_container: Obj, identity: Callable[[Obj], Any]) -> None:
        add_volume(pod, {"name": self.volume, "emptyDir": {"medium": "Memory"}})
        add_init_container(pod, init_container, identity)
        add_volume_mount(pod, {"name": self.volume, "readOnly": True, "mountPath": SECRETS_DIR})
        file_mount_env(pod)

    def _container_name(self, pod: Obj, prefix: str) -> str:
        return f"{prefix}-{len(pod['spec'].get('initContainers') or [])}"

    def _refuse_env(self, secret: Secret) -> None:
        if secret.mount_requirement == ENV_VAR:
            mount = Secret.MountType.Name(secret.mount_requirement)
            raise InjectionError(
                f"unrecognized mount requirement [{mount}] for secret [{secret.key}] ({self.manager} mounts files only)"
            )


class AWSSecrets(_SidecarSecrets):
    """AWS Secrets Manager: secret `<group>:<key>` pulled by AWS's sidecar into /etc/flyte/secrets/<group>/<key>."""

    kind = SecretManagerType.AWS
    volume = "aws-secret-vol"
    manager = "AWS Secret Manager"

    def inject(self, secret: Secret, pod: Obj) -> bool:
        _require_group_and_key(secret, "AWS")
        self._refuse_env(secret)
        container = {
            "name": self._container_name(pod, "aws-pull-secret"),
            "image": self.config.sidecarImage,
            "volumeMounts": [{"name": self.volume, "mountPath": "/tmp"}],
            "env": [
                {"name": "SECRET_ARN", "value": secret.group.rstrip(":") + ":" + secret.key.lstrip(":")},
                {"name": "SECRET_FILENAME", "value": f"/{secret.group.lower()}/{secret.key.lower()}"},
            ],
            "resources": dict(self.config.resources),
        }
        self._mount(pod, container, lambda c: [e for e in c.get("env") or [] if e["name"].startswith("SECRET_")])
        return True


class GCPSecrets(_SidecarSecrets):
    """GCP Secret Manager: `gcloud secrets versions access` in an init container writes
    /etc/flyte/secrets/<group>/<group_version>; needs group and group_version."""

    kind = SecretManagerType.GCP
    volume = "gcp-secret-vol"
    manager = "GCP Secret Manager"

    def inject(self, secret: Secret, pod: Obj) -> bool:
        if not secret.group or not secret.group_version:
            raise InjectionError(f"GCP secrets require both group and group_version to be set: {describe(secret)}")
        self._refuse_env(secret)
        secret_dir = f"{SECRETS_DIR}/{secret.group}".lower()
        secret_path = f"{secret_dir}/{secret.group_version}".lower()
        group, version = secret.group, secret.group_version
        script = (
            f"gcloud secrets versions access {group}/versions/{version} --out-file={secret_path} || "
            f"gcloud secrets versions access {version} --secret={group} --out-file={secret_path}; "
            f"chmod +rX {secret_dir} {secret_path}"
        )
        container = {
            "name": self._container_name(pod, "gcp-pull-secret"),
            "image": self.config.sidecarImage,
            "command": ["sh", "-ec", script],
            "volumeMounts": [{"name": self.volume, "mountPath": SECRETS_DIR}],
            "resources": dict(self.config.resources),
        }
        self._mount(pod, container, lambda c: c.get("command"))
        return True
