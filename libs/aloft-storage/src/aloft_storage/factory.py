"""Build the configured blob store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aloft_storage.base import BlobStore
from aloft_storage.config import StorageConfig
from aloft_storage.local import LocalBlobStore
from aloft_storage.signing import UrlSigner


def local_signing_secret(config: StorageConfig, root: Path) -> bytes:
    """The configured secret, or one derived from a random file kept beside the store (stable across restarts)."""
    if config.signedUrl.secret:
        return config.signedUrl.secret.encode()
    secret_file = root / ".signing-secret"
    if not secret_file.exists():
        import secrets

        root.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secrets.token_hex(32))
        secret_file.chmod(0o600)
    return hashlib.sha256(secret_file.read_bytes()).digest()


def create_blob_store(config: StorageConfig, base_dir: Path | None = None) -> BlobStore:
    """``base_dir`` anchors a relative ``storage.local.root`` (the data directory of the stack)."""
    if config.type == "local":
        root = Path(config.local.root)
        if not root.is_absolute() and base_dir is not None:
            root = base_dir / root
        signer = UrlSigner(local_signing_secret(config, root), config.signedUrl.baseUrl)
        return LocalBlobStore(root, config.container, signer, config.signedUrl.defaultExpiry)
    from aloft_storage.s3 import S3BlobStore

    return S3BlobStore(config)
