"""``file://`` blob store rooted at a directory; atomic writes via rename."""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from aloft_storage.base import BlobNotFound, BlobStore
from aloft_storage.signing import UrlSigner

# Blobs smaller than this are read and written on the event loop: a round trip through a worker thread costs
# milliseconds on a busy machine (GIL hand-offs), far more than the I/O of a small file.
_INLINE_BYTES = 256 * 1024


class LocalBlobStore(BlobStore):
    scheme = "file"

    def __init__(self, root: Path, container: str, signer: UrlSigner | None, default_expiry: timedelta) -> None:
        self.root = root.resolve()
        self.container_path = self.root / container
        self.container_path.mkdir(parents=True, exist_ok=True)
        self._signer = signer
        self._default_expiry = default_expiry

    @property
    def base_uri(self) -> str:
        return self.container_path.as_uri()

    def path(self, uri: str) -> Path:
        """Local path of a ``file://`` URI (or a plain absolute path), confined to the store root."""
        raw = unquote(urlparse(uri).path) if uri.startswith("file://") else uri
        path = Path(raw).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"{uri} is outside the blob store root {self.root}")
        return path

    def key(self, uri: str) -> str:
        return self.path(uri).relative_to(self.root).as_posix()

    def uri_for_key(self, key: str) -> str:
        return self.path(str(self.root / key)).as_uri()

    def owns(self, uri: str) -> bool:
        return uri.startswith("file://") or uri.startswith("/")

    def container_key(self, uri: str) -> str | None:
        try:
            path = self.path(uri)
        except ValueError:
            return None
        if self.container_path not in path.parents:
            return None
        return path.relative_to(self.container_path).as_posix()

    async def read(self, uri: str) -> bytes:
        path = self.path(uri)
        try:
            if path.stat().st_size < _INLINE_BYTES:
                return path.read_bytes()  # a thread hop costs more than reading a small file
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BlobNotFound(uri) from exc

    def _write_sync(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def write(self, uri: str, data: bytes) -> None:
        path = self.path(uri)
        if len(data) < _INLINE_BYTES:
            self._write_sync(path, data)
        else:
            await asyncio.to_thread(self._write_sync, path, data)

    async def exists(self, uri: str) -> bool:
        return self.path(uri).is_file()

    async def size(self, uri: str) -> int:
        try:
            return self.path(uri).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(uri) from exc

    async def delete(self, uri: str) -> None:
        self.path(uri).unlink(missing_ok=True)

    async def list(self, prefix_uri: str) -> list[str]:
        base = self.path(prefix_uri)
        if base.is_file():
            return [base.as_uri()]
        if not base.is_dir():
            return []
        return sorted(p.as_uri() for p in base.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))

    def signed_url(
        self, uri: str, method: str = "GET", expires_in: timedelta | None = None, content_md5: str = ""
    ) -> str:
        if self._signer is None:
            raise RuntimeError("this local blob store has no URL signer configured")
        expiry = (expires_in or self._default_expiry).total_seconds()
        return self._signer.sign(self.key(uri), method, expiry, content_md5)
