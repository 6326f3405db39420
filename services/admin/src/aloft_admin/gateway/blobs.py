"""``PUT/GET /api/v1/blobs/{key}``: the local blob store's signed URLs, served by admin's HTTP server.

A URL is valid for one method until it expires, and only with its HMAC signature (``aloft_storage.UrlSigner``;
the secret lives beside the store root, outside the served tree, so every service sharing the store signs URLs
admin accepts). Hidden names (a leading ``.`` in any segment) are never served. A PUT
whose URL was signed with a Content-MD5 must carry a body with that MD5; a ``Content-MD5`` header, when sent,
must match the body too. Bodies are streamed to a temporary file and renamed into place, never held in memory.

Blobs are served as bytes, except HTML (a task's Flyte Deck, ``deck.html``, which the console's "Open deck" link
opens in the browser as S3's presigned URL would): text/html, but sandboxed by its Content-Security-Policy into an
opaque origin, so the deck's scripts run without admin's origin (no API calls with the user's session).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import grpc
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from aloft_admin.gateway.rest import error_response
from aloft_storage import SignedUrlError, UrlSigner
from aloft_storage.local import LocalBlobStore

BLOB_ROUTE_PREFIX = "/api/v1/blobs"
HTML_HEADERS = {"Content-Security-Policy": "sandbox allow-scripts allow-popups", "X-Content-Type-Options": "nosniff"}


def local_signer(store: Any) -> UrlSigner | None:
    """The signer of a local blob store (None for other stores: S3 serves its own presigned URLs)."""
    if not isinstance(store, LocalBlobStore):
        return None
    signer = getattr(store, "_signer", None)
    return signer if isinstance(signer, UrlSigner) else None


def bind_signed_url_base(store: Any, base_url: str) -> None:
    """Point the local store's signed URLs at the HTTP server that will verify them."""
    signer = local_signer(store)
    if signer is not None:
        signer.base_url = base_url.rstrip("/")


def _denied(message: str) -> Response:
    return error_response(grpc.StatusCode.PERMISSION_DENIED, message)


def _bad(message: str) -> Response:
    return error_response(grpc.StatusCode.INVALID_ARGUMENT, message)


class BlobEndpoint:
    def __init__(self, store: LocalBlobStore, signer: UrlSigner) -> None:
        self.store = store
        self.signer = signer

    def _target(self, key: str) -> Path | None:
        """The file a key names; None outside the store or for hidden names (secrets, temporary uploads)."""
        if any(part.startswith(".") for part in key.split("/")):
            return None
        try:
            return self.store.path(str(self.store.root / key))
        except ValueError:
            return None

    def _verify(self, request: Request, key: str, method: str) -> str | Response:
        try:
            return self.signer.verify(key, method, request.url.query)
        except SignedUrlError as exc:
            return _denied(f"signed URL rejected: {exc}")

    async def get(self, request: Request) -> Response:
        key = request.path_params["key"]
        verified = self._verify(request, key, "GET")
        if isinstance(verified, Response):
            return verified
        path = self._target(key)
        if path is None:
            return _denied(f"{key} is not served")
        if not await asyncio.to_thread(os.path.isfile, path):
            return error_response(grpc.StatusCode.NOT_FOUND, f"blob {key} does not exist")
        if path.suffix.lower() in (".html", ".htm"):
            return FileResponse(path, media_type="text/html; charset=utf-8", headers=HTML_HEADERS)
        return FileResponse(path, media_type="application/octet-stream")

    async def put(self, request: Request) -> Response:
        key = request.path_params["key"]
        verified = self._verify(request, key, "PUT")
        if isinstance(verified, Response):
            return verified
        signed_md5 = verified
        header_md5 = request.headers.get("content-md5", "")
        if signed_md5 and header_md5 and header_md5 != signed_md5:
            return _bad("Content-MD5 header does not match the MD5 the URL was signed for")
        path = self._target(key)
        if path is None:
            return _denied(f"{key} is outside the blob store")
        return await self._store(request, path, signed_md5 or header_md5)

    async def _store(self, request: Request, path: Path, expected_md5: str) -> Response:
        os.makedirs(path.parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        digest = hashlib.md5()
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in request.stream():
                    digest.update(chunk)
                    handle.write(chunk)
            actual = base64.b64encode(digest.digest()).decode()
            if expected_md5 and actual != expected_md5:
                os.unlink(tmp)
                return _bad(f"body MD5 {actual} does not match Content-MD5 {expected_md5}")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return Response(status_code=200, headers={"ETag": f'"{digest.hexdigest()}"'})


def blob_routes(store: Any) -> list[Route]:
    signer = local_signer(store)
    if signer is None:
        return []
    endpoint = BlobEndpoint(store, signer)
    return [
        Route(BLOB_ROUTE_PREFIX + "/{key:path}", endpoint.get, methods=["GET"]),
        Route(BLOB_ROUTE_PREFIX + "/{key:path}", endpoint.put, methods=["PUT"]),
    ]
