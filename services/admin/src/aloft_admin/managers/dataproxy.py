"""DataProxy use cases (flyteadmin dataproxy/service.go): signed upload/download URLs and GetData.

Upload locations are ``<store root>/<uploadPrefix>/<project>/<domain>/<filename_root or base32(md5)>/<filename>``.
Download URLs are signed only for objects under the prefixes admin owns (metadata, raw data, uploads): the
store holds other services' state too, and a signed URL is a credential anyone holding it can use. The local
blob store's signed URLs point at admin's own HTTP server (gateway/blobs.py); S3 stores hand out presigned URLs.
Execution data is read through admin's node/task execution managers (``ExecutionReads``), as flyteadmin's data
proxy calls its node/task execution managers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from aloft_admin.config import AdminSection
from aloft_admin.managers.execution_reads import ExecutionReads
from aloft_admin.transformers.timestamps import Clock, to_timestamp
from aloft_service.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from aloft_storage import BlobStore
from aloft_storage.local import LocalBlobStore

DEFAULT_FILENAME_LENGTH = 20
_FLYTE_URL = re.compile(
    r"^flyte://v1/(?P<project>[\w-]+)/(?P<domain>[\w-]+)/(?P<execution>[\w-]+)/(?P<node>[\w.-]+)"
    r"(?:/(?P<attempt>\d+))?/(?P<io>[iod])(?:/(?P<name>[\w.-]+))?$"
)


@dataclass(frozen=True)
class FlyteUrl:
    node_execution_id: identifier_pb2.NodeExecutionIdentifier
    attempt: int | None
    io: str  # "i", "o" or "d" (deck)
    name: str


def parse_flyte_url(url: str) -> FlyteUrl:
    match = _FLYTE_URL.match(url)
    if match is None:
        raise InvalidArgument(
            f"failed to parse flyte url [{url}]: expected flyte://v1/<project>/<domain>/"
            "<execution>/<node>[/<attempt>]/{i,o,d}[/<name>]"
        )
    if match["io"] == "d" and match["name"]:
        raise InvalidArgument(f"flyte url [{url}]: a deck has no named parts")
    node_id = identifier_pb2.NodeExecutionIdentifier(
        node_id=match["node"],
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(
            project=match["project"], domain=match["domain"], name=match["execution"]
        ),
    )
    attempt = int(match["attempt"]) if match["attempt"] is not None else None
    return FlyteUrl(node_id, attempt, match["io"], match["name"] or "")


def _random_filename() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(DEFAULT_FILENAME_LENGTH))


def validate_expiry(requested: duration_pb2.Duration | None, maximum: timedelta, field: str) -> timedelta:
    """The requested expiry (default: the maximum); InvalidArgument when negative or above the maximum."""
    if requested is None:
        return maximum
    if requested.seconds < 0 or requested.nanos < 0:
        raise InvalidArgument(f"{field} [{requested.ToJsonString()}] should not be negative")
    asked = requested.ToTimedelta()
    if asked > maximum:
        raise InvalidArgument(f"{field} [{requested.ToJsonString()}] cannot exceed max allowed expiration [{maximum}]")
    return asked if asked > timedelta(0) else maximum


async def existing_md5(store: BlobStore, uri: str) -> str:
    """base64 MD5 of a stored object (S3: from its ETag, which is the MD5 for single-part uploads)."""
    client = getattr(store, "client", None)
    if store.scheme == "s3" and client is not None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        head = await asyncio.to_thread(client.head_object, Bucket=bucket, Key=key)
        etag = str(head.get("ETag", "")).strip('"')
        try:
            return base64.b64encode(bytes.fromhex(etag)).decode()
        except ValueError:
            return ""
    if not isinstance(store, LocalBlobStore):
        return ""
    path = store.path(uri)

    def _hash() -> str:
        digest = hashlib.md5()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return base64.b64encode(digest.digest()).decode()

    return await asyncio.to_thread(_hash)


def client_visible(store: BlobStore, native: str) -> str:
    """The location flytekit records in literals. On the local store that is the plain path: flytekit checks a
    FlyteFile/FlyteDirectory URI without a remote scheme with ``os.path.isfile``/``isdir`` as given, so a
    ``file://`` URI would fail inside the task although the data is on disk (propeller hands tasks plain paths too)."""
    if isinstance(store, LocalBlobStore):
        return str(store.path(native))
    return native


class DataProxyManager:
    def __init__(self, blobs: BlobStore, clock: Clock, admin: AdminSection, executions: ExecutionReads | None) -> None:
        self.blobs = blobs
        self.executions = executions
        self.max_expiry: timedelta = admin.signedUrlExpiry
        self._clock = clock
        self._upload_prefix = admin.uploadPrefix
        # Download URLs are signed only under these (see the module docstring).
        prefixes = (admin.metadataPrefix, admin.rawOutputPrefix, admin.uploadPrefix)
        self._owned_prefixes = [p.strip("/") for p in prefixes if p.strip("/")]

    def _timestamp_after(self, delta: timedelta) -> timestamp_pb2.Timestamp:
        return to_timestamp(self._clock() + delta)

    async def create_upload_location(
        self, request: dataproxy_pb2.CreateUploadLocationRequest
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        if not request.project or not request.domain:
            raise InvalidArgument("project and domain are required parameters")
        if not request.filename_root and not request.content_md5:
            raise InvalidArgument("content_md5 or filename_root is a required parameter")
        md5 = base64.b64encode(request.content_md5).decode() if request.content_md5 else ""
        expiry = validate_expiry(
            request.expires_in if request.HasField("expires_in") else None, self.max_expiry, "expires_in"
        )
        prefix = request.filename_root or base64.b32encode(request.content_md5).decode()
        filename = request.filename or _random_filename()
        native = self.blobs.uri(self._upload_prefix, request.project, request.domain, prefix, filename)
        if request.filename and request.filename_root:
            await self._check_overwrite(native, md5)
        signed = self.blobs.signed_url(native, "PUT", expiry, content_md5=md5)
        return dataproxy_pb2.CreateUploadLocationResponse(
            signed_url=signed,
            native_url=client_visible(self.blobs, native),
            expires_at=self._timestamp_after(expiry),
            headers={"Content-MD5": md5} if md5 else {},
        )

    async def _check_overwrite(self, native: str, md5: str) -> None:
        """A deterministic location may only be rewritten with the same content (flyteadmin's rule)."""
        if not await self.blobs.exists(native):
            return
        if not md5 or await existing_md5(self.blobs, native) != md5:
            raise AlreadyExists(
                f"file already exists at location [{native}], specify a matching hash if you wish to rewrite"
            )

    async def create_download_location(
        self, request: dataproxy_pb2.CreateDownloadLocationRequest
    ) -> dataproxy_pb2.CreateDownloadLocationResponse:
        expiry = validate_expiry(
            request.expires_in if request.HasField("expires_in") else None, self.max_expiry, "expires_in"
        )
        signed = self._signed_get(request.native_url, expiry)
        return dataproxy_pb2.CreateDownloadLocationResponse(signed_url=signed, expires_at=self._timestamp_after(expiry))

    def _signed_get(self, native_url: str, expiry: timedelta) -> str:
        if not native_url:
            raise InvalidArgument("native_url is required")
        if not self.blobs.owns(native_url):
            raise InvalidArgument(f"native_url [{native_url}] is not in this deployment's blob store")
        self._check_owned_prefix(native_url)
        try:
            return self.blobs.signed_url(native_url, "GET", expiry)
        except ValueError as exc:
            raise InvalidArgument(f"native_url [{native_url}]: {exc}") from exc

    def _check_owned_prefix(self, native_url: str) -> None:
        key = self.blobs.container_key(native_url)
        owned = self._owned_prefixes
        if key is None or not any(key.startswith(prefix + "/") for prefix in owned):
            raise PermissionDenied(f"native_url [{native_url}] is not under a prefix admin serves ({', '.join(owned)})")

    async def create_download_link(
        self, request: dataproxy_pb2.CreateDownloadLinkRequest
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        expiry = validate_expiry(
            request.expires_in if request.HasField("expires_in") else None, self.max_expiry, "expires_in"
        )
        if request.artifact_type == dataproxy_pb2.ARTIFACT_TYPE_UNDEFINED:
            raise InvalidArgument("artifact_type is required")
        if not request.HasField("node_execution_id"):
            raise InvalidArgument("source is required: set node_execution_id")
        node = await self._executions().get_node_execution(
            node_execution_pb2.NodeExecutionGetRequest(id=request.node_execution_id)
        )
        native = node.closure.deck_uri
        if not native:
            raise NotFound(f"node execution [{_node_label(request.node_execution_id)}] has no deck")
        if not await self.blobs.exists(native):
            raise NotFound(f"URL [{native}] does not exist yet; the deck may not have been persisted")
        signed = self._signed_get(native, expiry)
        expires_at = self._timestamp_after(expiry)
        return dataproxy_pb2.CreateDownloadLinkResponse(
            signed_url=[signed],
            expires_at=expires_at,
            pre_signed_urls=dataproxy_pb2.PreSignedURLs(signed_url=[signed], expires_at=expires_at),
        )

    async def get_data(self, request: dataproxy_pb2.GetDataRequest) -> dataproxy_pb2.GetDataResponse:
        url = request.flyte_url
        if not url:
            raise InvalidArgument("flyte_url is required")
        if not url.startswith("flyte://"):
            return self._raw_uri_data(url)
        parsed = parse_flyte_url(url)
        if parsed.io == "d":
            if parsed.attempt is not None:
                raise InvalidArgument("deck type cannot be specified with a retry attempt, just use the node instead")
            link = await self.create_download_link(
                dataproxy_pb2.CreateDownloadLinkRequest(
                    artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK, node_execution_id=parsed.node_execution_id
                )
            )
            return dataproxy_pb2.GetDataResponse(pre_signed_urls=link.pre_signed_urls)
        literals = await self._literal_map(parsed)
        if not parsed.name:
            return dataproxy_pb2.GetDataResponse(literal_map=literals)
        if parsed.name not in literals.literals:
            raise InvalidArgument(f"name [{parsed.name}] not found in [{url}]")
        return dataproxy_pb2.GetDataResponse(literal=literals.literals[parsed.name])

    def _raw_uri_data(self, uri: str) -> dataproxy_pb2.GetDataResponse:
        signed = self._signed_get(uri, self.max_expiry)
        urls = dataproxy_pb2.PreSignedURLs(signed_url=[signed], expires_at=self._timestamp_after(self.max_expiry))
        return dataproxy_pb2.GetDataResponse(pre_signed_urls=urls)

    async def _literal_map(self, parsed: FlyteUrl) -> literals_pb2.LiteralMap:
        """The inputs or outputs, inline when the execution RPCs inline them, else read from their native URI."""
        inputs = parsed.io == "i"
        if parsed.attempt is None:
            node_id = parsed.node_execution_id
            request = node_execution_pb2.NodeExecutionGetDataRequest(id=node_id)
            data = await self._executions().get_node_execution_data(request)
            owner = None
        else:
            owner = await self._task_execution(parsed.node_execution_id, parsed.attempt)
            data = await self._executions().get_task_execution_data(
                task_execution_pb2.TaskExecutionGetDataRequest(id=owner.id)
            )
        literal_map: literals_pb2.LiteralMap = data.full_inputs if inputs else data.full_outputs
        blob = data.inputs if inputs else data.outputs
        if literal_map.literals or not blob.bytes:
            return literal_map
        # Too large to inline: read the map from where the execution stored it.
        if owner is None:
            owner = await self._executions().get_node_execution(
                node_execution_pb2.NodeExecutionGetRequest(id=parsed.node_execution_id)
            )
        native = owner.input_uri if inputs else owner.closure.output_uri
        return await self.blobs.read_proto(native, literals_pb2.LiteralMap)

    async def _task_execution(
        self, node_id: identifier_pb2.NodeExecutionIdentifier, attempt: int
    ) -> task_execution_pb2.TaskExecution:
        listing = await self._executions().list_task_executions(
            task_execution_pb2.TaskExecutionListRequest(
                node_execution_id=node_id, limit=1, filters=f"eq(retry_attempt,{attempt})"
            ),
        )
        if not listing.task_executions:
            raise InvalidArgument(f"no task execution attempt {attempt} for node [{_node_label(node_id)}]")
        task_execution: task_execution_pb2.TaskExecution = listing.task_executions[0]
        return task_execution

    def _executions(self) -> ExecutionReads:
        if self.executions is None:
            raise FailedPrecondition("execution data is not available: admin serves no executions here")
        return self.executions


def _node_label(node_id: identifier_pb2.NodeExecutionIdentifier) -> str:
    e = node_id.execution_id
    return f"{e.project}/{e.domain}/{e.name}/{node_id.node_id}"
