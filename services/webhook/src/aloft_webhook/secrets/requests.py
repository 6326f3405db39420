"""Secret requests as propeller writes them on a pod: label `inject-flyte-secrets: "true"` and one annotation
`flyte.secrets/s<N>` per secret holding the flyteidl `core.Secret` in protobuf text format, base32-encoded with
Flyte's lowercase alphabet and no padding (Flyte's secrets marshaler, so pods from either side interoperate)."""

from __future__ import annotations

import base64

from flyteidl.core.security_pb2 import Secret
from google.protobuf import text_format

POD_LABEL = "inject-flyte-secrets"
POD_LABEL_VALUE = "true"
ANNOTATION_PREFIX = "flyte.secrets/s"


class SecretRequestError(ValueError):
    pass


def encode_secret(secret: Secret) -> str:
    text = text_format.MessageToString(secret).encode()
    return base64.b32encode(text).decode().lower().rstrip("=")


def decode_secret(encoded: str) -> Secret:
    padded = encoded.upper() + "=" * (-len(encoded) % 8)
    try:
        text = base64.b32decode(padded).decode()
        return text_format.Parse(text, Secret())
    except (ValueError, text_format.ParseError) as exc:
        raise SecretRequestError(f"cannot decode secret request: {exc}") from exc


def secrets_to_annotations(secrets: list[Secret]) -> dict[str, str]:
    return {f"{ANNOTATION_PREFIX}{i}": encode_secret(s) for i, s in enumerate(secrets)}


def secrets_from_annotations(annotations: dict[str, str]) -> list[Secret]:
    """Requested secrets, in annotation order (s0, s1, ...)."""
    found = []
    for key, value in annotations.items():
        if key.startswith(ANNOTATION_PREFIX):
            try:
                secret = decode_secret(value)
            except SecretRequestError as exc:
                raise SecretRequestError(f"error unmarshaling secret [{key}]: {exc}") from exc
            suffix = key[len(ANNOTATION_PREFIX) :]
            found.append((int(suffix) if suffix.isdigit() else 1 << 30, key, secret))
    return [secret for _, _, secret in sorted(found, key=lambda item: (item[0], item[1]))]


def describe(secret: Secret) -> str:
    mount = Secret.MountType.Name(secret.mount_requirement)
    return f"group={secret.group!r} key={secret.key!r} group_version={secret.group_version!r} mount={mount}"
