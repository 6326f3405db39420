"""The ``webhook`` section (Flyte's pod-webhook key names) and the sections the webhook reads."""

from __future__ import annotations

import enum
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aloft_config import Section
from aloft_service.logging import LoggerConfig


class SecretManagerType(enum.IntEnum):
    """Flyte's numbering (`secretManagerType: 1` = K8s); names are accepted too."""

    Global = 0
    K8s = 1
    AWS = 2
    GCP = 3
    Vault = 4


def _manager_type(value: Any) -> SecretManagerType:
    if isinstance(value, SecretManagerType):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return SecretManagerType(value)
    if isinstance(value, str):
        by_name = {m.name.lower(): m for m in SecretManagerType}
        if value.lower() in by_name:
            return by_name[value.lower()]
        if value.isdigit():
            return SecretManagerType(int(value))
    raise ValueError(f"unknown secret manager type {value!r}: use one of K8s, AWS, GCP, Vault (or 1-4)")


def _sidecar_resources() -> dict[str, dict[str, str]]:
    amount = {"cpu": "200m", "memory": "500Mi"}
    return {"requests": dict(amount), "limits": dict(amount)}


class SidecarManagerSection(Section):
    sidecarImage: str
    resources: dict[str, dict[str, str]] = Field(default_factory=_sidecar_resources)


class VaultSecretManagerSection(Section):
    role: str = "flyte"
    kvVersion: str = "2"  # deprecated in Flyte: the secret's group_version (kv1/kv2/db) wins
    annotations: dict[str, str] = {}

    @field_validator("kvVersion", mode="before")
    @classmethod
    def _kv(cls, value: Any) -> str:
        text = str(value)
        if text not in ("1", "2"):
            raise ValueError("kvVersion must be '1' or '2'")
        return text


class WebhookSection(Section):
    host: str = "127.0.0.1"
    listenPort: int = Field(default=9443, ge=0, le=65535)  # Flyte's webhook port; /metrics and /healthcheck too
    serviceName: str = "aloft-pod-webhook"
    servicePort: int = Field(default=443, ge=1, le=65535)
    # Kubernetes secret holding ca.crt / tls.crt / tls.key (written by `init-certs`, shared by every replica).
    secretName: str = "aloft-pod-webhook"
    certDir: str = "/etc/webhook/certs"
    # Namespace of the webhook's Service and secret; "" = $POD_NAMESPACE, else "flyte".
    namespace: str = ""
    # "" = in-cluster config when running in a pod, else the default kubeconfig ($KUBECONFIG, ~/.kube/config).
    kubeConfig: str = ""
    secretManagerType: SecretManagerType = SecretManagerType.K8s
    secretManagerTypes: list[SecretManagerType] = []  # several, tried in order (after global secrets)
    awsSecretManager: SidecarManagerSection = SidecarManagerSection(
        sidecarImage="docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4"
    )
    gcpSecretManager: SidecarManagerSection = SidecarManagerSection(
        sidecarImage="gcr.io/google.com/cloudsdktool/cloud-sdk:alpine"
    )
    vaultSecretManager: VaultSecretManagerSection = VaultSecretManagerSection()

    @field_validator("secretManagerType", mode="before")
    @classmethod
    def _type(cls, value: Any) -> SecretManagerType:
        return _manager_type(value)

    @field_validator("secretManagerTypes", mode="before")
    @classmethod
    def _types(cls, value: Any) -> list[SecretManagerType]:
        return [_manager_type(v) for v in value or []]

    def resolved_namespace(self) -> str:
        return self.namespace or os.environ.get("POD_NAMESPACE", "") or "flyte"

    def managers(self) -> list[SecretManagerType]:
        """Global secrets first (they take precedence), then the configured manager(s)."""
        chosen = self.secretManagerTypes or [self.secretManagerType]
        return [SecretManagerType.Global, *[m for m in chosen if m != SecretManagerType.Global]]


class GlobalSecretsSection(Section):
    """Flyte's `secrets` section: secrets mounted on the webhook itself (files or env vars) — global secrets."""

    secrets_prefix: str = Field(default="/etc/secrets", alias="secrets-prefix")
    env_prefix: str = Field(default="FLYTE_SECRET_", alias="env-prefix")


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: WebhookSection = WebhookSection()
    secrets: GlobalSecretsSection = GlobalSecretsSection()
    logger: LoggerConfig = LoggerConfig()
