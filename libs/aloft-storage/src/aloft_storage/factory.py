"""Build the configured blob store."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from aloft_storage.base import BlobStore
from aloft_storage.config import StorageConfig
from aloft_storage.local import LocalBlobStore
from aloft_storage.signing import UrlSigner


def signing_secret_path(root: Path) -> Path:
    """Where the generated secret lives: beside the store root, never inside the tree signed URLs serve."""
    root = root.resolve()
    return root.parent / f".{root.name}.signing-secret"


def _move_legacy_secret(root: Path, secret_file: Path) -> None:
    """Older versions kept the secret inside the store root, where a signed URL could fetch it."""
    legacy = root / ".signing-secret"
    with contextlib.suppress(FileNotFoundError):  # another service may be moving it at the same moment
        if secret_file.exists():
            legacy.unlink()
        else:
            os.replace(legacy, secret_file)


def _create_secret(secret_file: Path) -> None:
    """Written whole to a private temporary file, then linked into place: a concurrent starter reads either
    no file or the complete one, and the first link wins."""
    fd, tmp = tempfile.mkstemp(dir=secret_file.parent, prefix=".tmp-secret-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, secret_file)
    finally:
        os.unlink(tmp)


def local_signing_secret(config: StorageConfig, root: Path) -> bytes:
    """The configured secret, or one derived from a random file kept beside the store (stable across restarts)."""
    if config.signedUrl.secret:
        return config.signedUrl.secret.encode()
    secret_file = signing_secret_path(root)
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    _move_legacy_secret(root.resolve(), secret_file)
    if not secret_file.exists():
        _create_secret(secret_file)
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
