"""GetExecutionData / GetNodeExecutionData / GetTaskExecutionData share this: a signed URL for each literal map
plus the full map when it is no larger than ``admin.maxInlineDataBytes`` (as flyteadmin's remote data config)."""

from __future__ import annotations

from flyteidl.admin import common_pb2
from flyteidl.core import literals_pb2

from aloft_admin.config import AdminSection
from aloft_storage import BlobNotFound, BlobStore


class ExecutionData:
    def __init__(self, blobs: BlobStore, admin: AdminSection) -> None:
        self._blobs = blobs
        self._url_expiry = admin.signedUrlExpiry
        self._max_inline_bytes = admin.maxInlineDataBytes

    async def literal_map(self, uri: str) -> tuple[common_pb2.UrlBlob, literals_pb2.LiteralMap]:
        """(UrlBlob, full map) for a stored LiteralMap; empty messages when there is no URI or no object yet.

        URIs outside admin's blob store (a data plane writing elsewhere) get no URL and no inline map.
        """
        if not uri or not self._blobs.owns(uri):
            return common_pb2.UrlBlob(), literals_pb2.LiteralMap()
        try:
            size = await self._blobs.size(uri)
        except BlobNotFound:
            return common_pb2.UrlBlob(), literals_pb2.LiteralMap()
        url = self._blobs.signed_url(uri, "GET", self._url_expiry)
        blob = common_pb2.UrlBlob(url=url, bytes=size)
        if size > self._max_inline_bytes:
            return blob, literals_pb2.LiteralMap()
        return blob, await self._blobs.read_proto(uri, literals_pb2.LiteralMap)
