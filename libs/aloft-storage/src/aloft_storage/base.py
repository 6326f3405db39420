"""The BlobStore contract. URIs are the store's native form (``file:///...`` or ``s3://bucket/key``).

Writes are whole-object and atomic (a reader sees the old or the new object, never a torn one). Reads of
missing objects raise BlobNotFound. All methods are safe to call concurrently.
"""

from __future__ import annotations

import abc
from datetime import timedelta
from typing import TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


class BlobNotFound(Exception):
    def __init__(self, uri: str) -> None:
        super().__init__(f"blob {uri} does not exist")
        self.uri = uri


class BlobStore(abc.ABC):
    scheme: str

    @property
    @abc.abstractmethod
    def base_uri(self) -> str:
        """The URI of the store's root (``file:///root/container`` or ``s3://container``)."""

    def uri(self, *parts: str) -> str:
        """Join path segments under the store root."""
        clean = [p.strip("/") for p in parts if p and p.strip("/")]
        return "/".join([self.base_uri.rstrip("/"), *clean])

    def owns(self, uri: str) -> bool:
        return uri.startswith(self.scheme + "://")

    def container_key(self, uri: str) -> str | None:
        """The object's key relative to ``base_uri``; None when the URI lies outside the store's container
        or is not in normal form (empty, ``.`` or ``..`` segments)."""
        base = self.base_uri.rstrip("/") + "/"
        if not uri.startswith(base):
            return None
        key = uri[len(base) :]
        if any(part in ("", ".", "..") for part in key.split("/")):
            return None
        return key

    @abc.abstractmethod
    async def read(self, uri: str) -> bytes: ...

    @abc.abstractmethod
    async def write(self, uri: str, data: bytes) -> None: ...

    async def write_new(self, uri: str, data: bytes) -> None:
        """Write an object at a key that is new and that no one reads before this call returns (a key of the
        caller's own, e.g. per attempt): a store may then skip what makes ``write`` atomic for readers of an
        existing object. Fails when an object is already there where the store can tell (``FileExistsError``).
        A caller that crashes before this returns leaves at most an incomplete object no one refers to."""
        await self.write(uri, data)

    async def write_proto_new(self, uri: str, message: Message) -> None:
        """``write_proto`` through ``write_new``."""
        await self.write_new(uri, message.SerializeToString(deterministic=True))

    @abc.abstractmethod
    async def exists(self, uri: str) -> bool: ...

    @abc.abstractmethod
    async def size(self, uri: str) -> int:
        """Size in bytes; raises BlobNotFound."""

    @abc.abstractmethod
    async def delete(self, uri: str) -> None: ...

    @abc.abstractmethod
    async def list(self, prefix_uri: str) -> list[str]:
        """URIs of all objects under a prefix, sorted."""

    @abc.abstractmethod
    def signed_url(
        self, uri: str, method: str = "GET", expires_in: timedelta | None = None, content_md5: str = ""
    ) -> str:
        """A URL a plain HTTP client can ``method`` for ``expires_in`` (PUT honours Content-MD5 when given)."""

    # Whether ``write_now`` works (a local file system): callers off the event loop may then write there.
    writes_now: bool = False

    def write_now(self, uri: str, data: bytes, *, keep_existing: bool = False) -> None:
        """Write synchronously, atomic as ``write``, for callers off the event loop (only when ``writes_now``);
        with ``keep_existing`` an object already at ``uri`` stays as it is."""
        raise NotImplementedError(f"{type(self).__name__} writes only through write()")

    def link_file(self, path: str, uri: str) -> bool:
        """Make the local file ``path`` the object at ``uri`` without copying it (a hard link: later appends to the
        file are the object's too), when the store can; False when it cannot (another file system, a remote
        store) or the object exists as another file. Synchronous: callers run it where blocking is fine."""
        return False

    async def read_proto(self, uri: str, message_type: type[M]) -> M:
        message = message_type()
        message.ParseFromString(await self.read(uri))
        return message

    async def write_proto(self, uri: str, message: Message) -> None:
        await self.write(uri, message.SerializeToString(deterministic=True))
