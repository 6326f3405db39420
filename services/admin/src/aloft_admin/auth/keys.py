"""Token signing keys of admin's authorization server: the current RSA key signs, the old one only verifies.

Keys come from ``selfAuthServer.tokenSigningRSAKeyFile`` / ``oldTokenSigningRSAKeyFile`` (PEM), else from
``<stack.dataDir>/auth/token_rsa_key.pem`` (made on first start, mode 0600). ``rotate`` moves the current key to
the old slot and makes a new one, so tokens issued before a rotation stay valid until they expire.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, RSAKey

KEY_FILE = "token_rsa_key.pem"
OLD_KEY_FILE = "token_rsa_key_old.pem"
RSA_BITS = 2048


def _write_private(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _load(path: Path) -> RSAKey:
    try:
        key = RSAKey.import_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the token signing key {str(path)!r}: {type(exc).__name__}") from exc
    key.ensure_kid()
    return key


def _new_key() -> RSAKey:
    key = RSAKey.generate_key(RSA_BITS, private=True)
    key.ensure_kid()
    return key


@dataclass
class SigningKeys:
    current: RSAKey
    old: RSAKey | None = None

    def signing_set(self) -> KeySet:
        """The private key new tokens are signed with (its ``kid`` goes into the token header)."""
        return KeySet([self.current])

    def public_jwks(self) -> dict[str, Any]:
        keys = [self.current] + ([self.old] if self.old is not None else [])
        return {"keys": [{**k.as_dict(private=False), "use": "sig", "alg": "RS256"} for k in keys]}


def key_paths(configured: str, configured_old: str, data_dir: Path) -> tuple[Path, Path]:
    base = data_dir / "auth"
    return (
        Path(configured) if configured else base / KEY_FILE,
        Path(configured_old) if configured_old else base / OLD_KEY_FILE,
    )


def load_signing_keys(configured: str, configured_old: str, data_dir: Path) -> SigningKeys:
    """Read the keys; with no configured key file, make and keep one under the data directory."""
    path, old_path = key_paths(configured, configured_old, data_dir)
    if not path.exists():
        if configured:
            raise ValueError(f"auth.appAuth.selfAuthServer.tokenSigningRSAKeyFile {str(path)!r} does not exist")
        _write_private(path, _new_key().as_pem(private=True))
    return SigningKeys(current=_load(path), old=_load(old_path) if old_path.exists() else None)


def rotate_signing_keys(configured: str, configured_old: str, data_dir: Path) -> SigningKeys:
    """Current → old, a new current key. Admin serves the new keys after a restart."""
    path, old_path = key_paths(configured, configured_old, data_dir)
    if path.exists():
        _write_private(old_path, path.read_bytes())
    _write_private(path, _new_key().as_pem(private=True))
    return load_signing_keys(configured, configured_old, data_dir)
