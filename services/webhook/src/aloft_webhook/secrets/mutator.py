"""The secrets mutator: for each requested secret, the first manager (global secrets first) that injects it wins."""

from __future__ import annotations

import copy
from collections.abc import Callable

from ..config import SecretManagerType, WebhookConfig
from .injectors import AWSSecrets, GCPSecrets, GlobalSecrets, InjectionError, Injector, K8sSecrets, VaultSecrets
from .pods import Obj
from .requests import POD_LABEL, POD_LABEL_VALUE, describe, secrets_from_annotations


def build_injectors(config: WebhookConfig, environ: dict[str, str] | None = None) -> list[Injector]:
    section = config.webhook
    factories: dict[SecretManagerType, Callable[[], Injector]] = {
        SecretManagerType.Global: lambda: GlobalSecrets(config.secrets, environ),
        SecretManagerType.K8s: K8sSecrets,
        SecretManagerType.AWS: lambda: AWSSecrets(section.awsSecretManager),
        SecretManagerType.GCP: lambda: GCPSecrets(section.gcpSecretManager),
        SecretManagerType.Vault: lambda: VaultSecrets(section.vaultSecretManager),
    }
    return [factories[kind]() for kind in section.managers()]


class SecretsMutator:
    def __init__(self, injectors: list[Injector]) -> None:
        self.injectors = injectors

    def mutate(self, pod: Obj) -> Obj:
        """The mutated copy of `pod` (equal to it when nothing applies); InjectionError when a secret cannot be."""
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if labels.get(POD_LABEL) != POD_LABEL_VALUE:
            return pod
        secrets = secrets_from_annotations((pod.get("metadata") or {}).get("annotations") or {})
        mutated = copy.deepcopy(pod)
        if not isinstance(mutated.get("spec"), dict) or not mutated["spec"].get("containers"):
            raise InjectionError("the pod has no containers to inject secrets into")
        for secret in secrets:
            errors = []
            for injector in self.injectors:
                try:
                    if injector.inject(secret, mutated):
                        break
                except InjectionError as exc:
                    errors.append(f"{injector.kind.name}: {exc}")
            else:
                detail = "; ".join(errors) if errors else "no secret manager had it"
                raise InjectionError(f"none of the secret managers injected secret [{describe(secret)}]: {detail}")
        return mutated
