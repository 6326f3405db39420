"""GetExecutionData / GetNodeExecutionData / GetTaskExecutionData share this: a signed URL for each literal map
plus the full map when it is no larger than ``admin.maxInlineDataBytes`` (as flyteadmin's remote data config)."""

from __future__ import annotations

from flyteidl.admin import common_pb2
from flyteidl.core import literals_pb2

from aloft_admin.deps import AdminDeps
from aloft_storage import BlobNotFound


async def literal_map_data(deps: AdminDeps, uri: str) -> tuple[common_pb2.UrlBlob, literals_pb2.LiteralMap]:
    """(UrlBlob, full map) for a stored LiteralMap; empty messages when there is no URI or no object yet.

    URIs outside admin's blob store (a data plane writing elsewhere) get no URL and no inline map.
    """
    if not uri or not deps.blobs.owns(uri):
        return common_pb2.UrlBlob(), literals_pb2.LiteralMap()
    try:
        size = await deps.blobs.size(uri)
    except BlobNotFound:
        return common_pb2.UrlBlob(), literals_pb2.LiteralMap()
    url = deps.blobs.signed_url(uri, "GET", deps.config.admin.signedUrlExpiry)
    blob = common_pb2.UrlBlob(url=url, bytes=size)
    if size > deps.config.admin.maxInlineDataBytes:
        return blob, literals_pb2.LiteralMap()
    return blob, await deps.blobs.read_proto(uri, literals_pb2.LiteralMap)
