"""AdmissionReview answers for each secret manager (in process): the patch, its idempotency, the refusals."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
from flyteidl.core.security_pb2 import Secret

from aloft_webhook.admission import BadReview, answer, parse_review
from aloft_webhook.config import GlobalSecretsSection, SecretManagerType, WebhookConfig, WebhookSection
from aloft_webhook.secrets.mutator import SecretsMutator, build_injectors
from aloft_webhook.secrets.requests import decode_secret, encode_secret, secrets_to_annotations

ENV, FILE, ANY = Secret.MountType.ENV_VAR, Secret.MountType.FILE, Secret.MountType.ANY


def _pod(*secrets: Secret, labelled: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "task-pod",
            "namespace": "flytesnacks-development",
            "labels": {"inject-flyte-secrets": "true"} if labelled else {},
            "annotations": secrets_to_annotations(list(secrets)),
        },
        "spec": {
            "containers": [{"name": "primary", "image": "img:1", "env": [{"name": "A", "value": "1"}]}],
            "initContainers": [{"name": "setup", "image": "img:1"}],
        },
    }


def _review(pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "uid": "abc",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE",
        "object": pod,
    }


def _mutator(
    manager: SecretManagerType = SecretManagerType.K8s, environ: dict[str, str] | None = None, **webhook: Any
) -> SecretsMutator:
    config = WebhookConfig(
        webhook=WebhookSection(secretManagerType=manager, **webhook),
        secrets=GlobalSecretsSection(**{"secrets-prefix": "/nonexistent"}),
    )
    return SecretsMutator(build_injectors(config, environ or {}))


def _mutate(mutator: SecretsMutator, pod: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    response = answer(mutator, _review(pod))["response"]
    if "patch" not in response:
        return pod, response
    patch = json.loads(base64.b64decode(response["patch"]))
    return jsonpatch.apply_patch(copy.deepcopy(pod), patch), response


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_secret_annotations_round_trip_flytes_encoding() -> None:
    secret = Secret(group="my-group", key="token", group_version="v2", mount_requirement=FILE)
    encoded = encode_secret(secret)
    assert encoded == encoded.lower() and "=" not in encoded
    assert decode_secret(encoded) == secret


def test_k8s_env_var_secret() -> None:
    pod, response = _mutate(_mutator(), _pod(Secret(group="db-creds", key="password", mount_requirement=ENV)))
    assert response["allowed"] and response["patchType"] == "JSONPatch"
    env = _env(pod["spec"]["containers"][0])
    assert env["_FSEC_DB-CREDS_PASSWORD"] == {"secretKeyRef": {"name": "db-creds", "key": "password", "optional": True}}
    assert env["FLYTE_SECRETS_ENV_PREFIX"] == "_FSEC_" and env["A"] == "1"
    assert "_FSEC_DB-CREDS_PASSWORD" in _env(pod["spec"]["initContainers"][0])


def test_k8s_file_secrets_share_one_volume_per_group() -> None:
    pod, _ = _mutate(
        _mutator(),
        _pod(
            Secret(group="creds", key="Token", mount_requirement=FILE),
            Secret(group="creds", key="cert", mount_requirement=ANY),
        ),
    )
    volumes = pod["spec"]["volumes"]
    assert len(volumes) == 1 and volumes[0]["secret"]["secretName"] == "creds"
    assert volumes[0]["secret"]["items"] == [{"key": "Token", "path": "token"}, {"key": "cert", "path": "cert"}]
    primary = pod["spec"]["containers"][0]
    assert primary["volumeMounts"] == [
        {"name": volumes[0]["name"], "readOnly": True, "mountPath": "/etc/flyte/secrets/creds"}
    ]
    assert _env(primary)["FLYTE_SECRETS_DEFAULT_DIR"] == "/etc/flyte/secrets"
    assert _env(primary)["FLYTE_SECRETS_FILE_PREFIX"] == ""


def test_mutating_twice_patches_nothing_the_second_time() -> None:
    mutator = _mutator(SecretManagerType.Vault)
    once, _ = _mutate(mutator, _pod(Secret(group="secret/data/flyte", key="k", group_version="kv2")))
    twice, response = _mutate(mutator, once)
    assert response == {"uid": "abc", "allowed": True} and twice == once
    k8s = _mutator()
    once, _ = _mutate(
        k8s, _pod(Secret(group="g", key="k", mount_requirement=FILE), Secret(group="g", key="e", mount_requirement=ENV))
    )
    assert _mutate(k8s, once)[1] == {"uid": "abc", "allowed": True}


def test_unlabelled_pods_and_pods_without_requests_are_left_alone() -> None:
    assert _mutate(_mutator(), _pod(Secret(group="g", key="k"), labelled=False))[1] == {"uid": "abc", "allowed": True}
    assert _mutate(_mutator(), _pod())[1] == {"uid": "abc", "allowed": True}


@pytest.mark.parametrize(
    ("version", "template"),
    [
        ("kv1", '{{- with secret "secret/flyte" -}}{{ .Data.k }}{{- end -}}'),
        ("kv2", '{{- with secret "secret/flyte" -}}{{ .Data.data.k }}{{- end -}}'),
        ("db", None),
    ],
)
def test_vault_annotations_per_engine(version: str, template: str | None) -> None:
    mutator = _mutator(
        SecretManagerType.Vault,
        vaultSecretManager={"role": "task-role", "annotations": {"vault.hashicorp.com/log-level": "debug"}},
    )
    pod, _ = _mutate(mutator, _pod(Secret(group="secret/flyte", key="k", group_version=version)))
    annotations = pod["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/agent-inject"] == "true"
    assert annotations["vault.hashicorp.com/role"] == "task-role"
    assert annotations["vault.hashicorp.com/secret-volume-path"] == "/etc/flyte/secrets"
    assert annotations["vault.hashicorp.com/agent-pre-populate-only"] == "true"
    assert annotations["vault.hashicorp.com/log-level"] == "debug"
    assert [v for k, v in annotations.items() if k.startswith("vault.hashicorp.com/agent-inject-secret-")] == [
        "secret/flyte"
    ]
    assert [v for k, v in annotations.items() if k.startswith("vault.hashicorp.com/agent-inject-file-")] == [
        "secret/flyte/k"
    ]
    templates = [v for k, v in annotations.items() if k.startswith("vault.hashicorp.com/agent-inject-template-")]
    assert templates == ([template] if template else [])
    assert _env(pod["spec"]["containers"][0])["FLYTE_SECRETS_DEFAULT_DIR"] == "/etc/flyte/secrets"


def test_vault_refuses_env_var_mounts_with_a_reason() -> None:
    _, response = _mutate(
        _mutator(SecretManagerType.Vault), _pod(Secret(group="secret/flyte", key="k", mount_requirement=ENV))
    )
    assert response["allowed"] is False and response["status"]["code"] == 400
    assert "Env_Var is not a supported mount requirement" in response["status"]["message"]


def test_aws_sidecar_init_container() -> None:
    pod, _ = _mutate(
        _mutator(SecretManagerType.AWS),
        _pod(Secret(group="arn:aws:secretsmanager:us-east-1:1:secret:app", key="token")),
    )
    init = pod["spec"]["initContainers"][-1]
    assert init["name"] == "aws-pull-secret-1" and init["image"].startswith(
        "docker.io/amazon/aws-secrets-manager-secret-sidecar"
    )
    assert _env(init)["SECRET_ARN"] == "arn:aws:secretsmanager:us-east-1:1:secret:app:token"
    assert _env(init)["SECRET_FILENAME"] == "/arn:aws:secretsmanager:us-east-1:1:secret:app/token"
    assert {"name": "aws-secret-vol", "emptyDir": {"medium": "Memory"}} in pod["spec"]["volumes"]
    assert {"name": "aws-secret-vol", "readOnly": True, "mountPath": "/etc/flyte/secrets"} in pod["spec"]["containers"][
        0
    ]["volumeMounts"]
    assert _mutate(_mutator(SecretManagerType.AWS), pod)[1] == {"uid": "abc", "allowed": True}


def test_gcp_sidecar_needs_group_version() -> None:
    pod, _ = _mutate(
        _mutator(SecretManagerType.GCP), _pod(Secret(group="api-key", group_version="3", mount_requirement=FILE))
    )
    init = pod["spec"]["initContainers"][-1]
    assert init["name"] == "gcp-pull-secret-1" and init["command"][:2] == ["sh", "-ec"]
    assert (
        "gcloud secrets versions access api-key/versions/3 --out-file=/etc/flyte/secrets/api-key/3"
        in init["command"][2]
    )
    _, refused = _mutate(_mutator(SecretManagerType.GCP), _pod(Secret(group="api-key", key="k")))
    assert refused["allowed"] is False and "group_version" in refused["status"]["message"]


def test_global_secrets_take_precedence(tmp_path: Path) -> None:
    mutator = _mutator(environ={"FLYTE_SECRET_creds_token": "from-webhook"})
    pod, _ = _mutate(mutator, _pod(Secret(group="creds", key="token")))
    env = _env(pod["spec"]["containers"][0])
    assert env["_FSEC_CREDS_TOKEN"] == "from-webhook" and "volumes" not in pod["spec"]
    # A global secret cannot be a file: the next manager (K8s) mounts it instead.
    pod, _ = _mutate(mutator, _pod(Secret(group="creds", key="token", mount_requirement=FILE)))
    assert pod["spec"]["volumes"][0]["secret"]["secretName"] == "creds"


def test_bad_reviews_get_clear_refusals() -> None:
    for raw, reason in [
        (b"not json", "not JSON"),
        (b'{"kind": "Pod"}', "expected an AdmissionReview"),
        (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}', "request.uid"),
    ]:
        with pytest.raises(BadReview, match=reason):
            parse_review(raw)
    pod = _pod()
    pod["metadata"]["annotations"] = {"flyte.secrets/s0": "!!!"}
    _, response = _mutate(_mutator(), pod)
    assert response["allowed"] is False and "flyte.secrets/s0" in response["status"]["message"]
    no_containers = _pod(Secret(group="g", key="k"))
    no_containers["spec"] = {}
    assert _mutate(_mutator(), no_containers)[1]["allowed"] is False
