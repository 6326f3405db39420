"""Catalog clients: look up, store and reserve cached task outputs.

Contract: no method raises for catalog trouble. Failures come back as statuses (CACHE_LOOKUP_FAILURE,
CACHE_PUT_FAILURE, RESERVATION_FAILURE) so a broken or unreachable catalog never fails a task — the task just runs.
Every call is idempotent: a repeated ``put`` of a key succeeds (datacatalog decides which artifact the tag names;
Aloft's moves it to the newest), ``release_reservation`` of a reservation held by no
one succeeds (one held by another owner is refused: RESERVATION_FAILURE).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import grpc
from aloft_auth.mtls import aio_channel
from flyteidl.core import catalog_pb2, identifier_pb2, literals_pb2
from flyteidl.datacatalog import datacatalog_pb2, datacatalog_pb2_grpc
from google.protobuf import duration_pb2

from aloft_propeller.catalog import keys
from aloft_propeller.catalog.config import CatalogCacheConfig
from aloft_service.interceptors import ClientTracingInterceptor

log = logging.getLogger(__name__)

CacheStatus = catalog_pb2.CatalogCacheStatus
ReservationStatus = catalog_pb2.CatalogReservation.Status

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
T = TypeVar("T")


@dataclass(frozen=True)
class CacheLookup:
    """CACHE_HIT (with ``outputs``), CACHE_MISS, CACHE_LOOKUP_FAILURE or CACHE_DISABLED."""

    status: int
    outputs: literals_pb2.LiteralMap | None = None
    catalog_key: catalog_pb2.CatalogMetadata | None = None
    error: str = ""

    @property
    def hit(self) -> bool:
        return self.status == catalog_pb2.CACHE_HIT


@dataclass(frozen=True)
class CachePut:
    """CACHE_POPULATED, CACHE_PUT_FAILURE or CACHE_DISABLED."""

    status: int
    catalog_key: catalog_pb2.CatalogMetadata | None = None
    error: str = ""


@dataclass(frozen=True)
class ReservationResult:
    """RESERVATION_ACQUIRED (``owner`` is us), RESERVATION_EXISTS (someone else holds it until ``expires_at``),
    RESERVATION_RELEASED, RESERVATION_FAILURE or RESERVATION_DISABLED."""

    status: int
    owner: str = ""
    expires_at: datetime | None = None
    heartbeat_interval: timedelta | None = None
    error: str = ""

    @property
    def acquired(self) -> bool:
        return self.status == catalog_pb2.CatalogReservation.RESERVATION_ACQUIRED


class CatalogClient(Protocol):
    async def get(self, key: keys.CatalogKey) -> CacheLookup:
        """The cached outputs for ``key`` (CACHE_HIT) or why there are none."""
        ...

    async def put(
        self, key: keys.CatalogKey, outputs: literals_pb2.LiteralMap, source: identifier_pb2.TaskExecutionIdentifier
    ) -> CachePut:
        """Store ``outputs`` for ``key`` (CACHE_POPULATED also when the key was cached already)."""
        ...

    async def update(
        self, key: keys.CatalogKey, outputs: literals_pb2.LiteralMap, source: identifier_pb2.TaskExecutionIdentifier
    ) -> CachePut:
        """Store ``outputs`` for ``key``, replacing any cached ones (overwrite_cache)."""
        ...

    async def get_or_extend_reservation(
        self, key: keys.CatalogKey, owner: str, heartbeat: timedelta
    ) -> ReservationResult:
        """Take or extend the reservation for ``key``; call again within ``heartbeat`` to keep it."""
        ...

    async def release_reservation(self, key: keys.CatalogKey, owner: str) -> ReservationResult:
        """Give the reservation up (RESERVATION_FAILURE if another owner holds it)."""
        ...

    async def close(self) -> None: ...


class NoopCatalogClient:
    """Caching switched off (``catalog-cache.type: noop``): nothing is looked up, stored or reserved."""

    async def get(self, key: keys.CatalogKey) -> CacheLookup:
        return CacheLookup(status=catalog_pb2.CACHE_DISABLED)

    async def put(
        self, key: keys.CatalogKey, outputs: literals_pb2.LiteralMap, source: identifier_pb2.TaskExecutionIdentifier
    ) -> CachePut:
        return CachePut(status=catalog_pb2.CACHE_DISABLED)

    async def update(
        self, key: keys.CatalogKey, outputs: literals_pb2.LiteralMap, source: identifier_pb2.TaskExecutionIdentifier
    ) -> CachePut:
        return CachePut(status=catalog_pb2.CACHE_DISABLED)

    async def get_or_extend_reservation(
        self, key: keys.CatalogKey, owner: str, heartbeat: timedelta
    ) -> ReservationResult:
        return ReservationResult(status=catalog_pb2.CatalogReservation.RESERVATION_DISABLED)

    async def release_reservation(self, key: keys.CatalogKey, owner: str) -> ReservationResult:
        return ReservationResult(status=catalog_pb2.CatalogReservation.RESERVATION_DISABLED)

    async def close(self) -> None:
        return None


class _CacheExpired(Exception):
    pass


class DataCatalogClient:
    """The flyteidl ``datacatalog.DataCatalog`` service over gRPC (Flyte's nodes/catalog/datacatalog client)."""

    def __init__(
        self,
        endpoint: str,
        config: CatalogCacheConfig,
        *,
        now: Callable[[], datetime] | None = None,
        auth: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self._config = config
        self._now = now or (lambda: datetime.now(UTC))
        interceptors = [ClientTracingInterceptor(), *auth]
        if getattr(auth, "credentials", None) is not None:  # auth.mutualTls
            self._channel = aio_channel(endpoint, auth, extra_interceptors=[ClientTracingInterceptor()])
        elif config.insecure:
            self._channel = grpc.aio.insecure_channel(endpoint, interceptors=interceptors)
        else:
            credentials = grpc.ssl_channel_credentials()
            self._channel = grpc.aio.secure_channel(endpoint, credentials, interceptors=interceptors)
        self._stub = datacatalog_pb2_grpc.DataCatalogStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def get(self, key: keys.CatalogKey) -> CacheLookup:
        try:
            return await self._get(key)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return CacheLookup(status=catalog_pb2.CACHE_MISS)
            return _lookup_failure(key, f"{err.code().name}: {err.details()}")
        except _CacheExpired as err:
            return CacheLookup(status=catalog_pb2.CACHE_MISS, error=str(err))
        except (ValueError, TypeError) as err:  # InvalidCacheKey, or inputs that can't be hashed
            return _lookup_failure(key, str(err))

    async def _get(self, key: keys.CatalogKey) -> CacheLookup:
        dataset_id = keys.dataset_id(key)
        dataset = (
            await self._call(self._stub.GetDataset, datacatalog_pb2.GetDatasetRequest(dataset=dataset_id))
        ).dataset
        tag = keys.tag_name(key)
        request = datacatalog_pb2.GetArtifactRequest(dataset=dataset_id, tag_name=tag)
        artifact = (await self._call(self._stub.GetArtifact, request)).artifact
        self._check_age(artifact)
        source = keys.source_from_metadata(dataset.metadata, artifact.metadata, key.task_id)
        relevant_tag = artifact.tags[0] if artifact.tags else None
        catalog_key = keys.event_catalog_metadata(dataset.id, relevant_tag, source)
        outputs = keys.outputs_from_artifact(key, artifact)
        return CacheLookup(status=catalog_pb2.CACHE_HIT, outputs=outputs, catalog_key=catalog_key)

    def _check_age(self, artifact: datacatalog_pb2.Artifact) -> None:
        max_age = self._config.max_cache_age
        if max_age <= timedelta(0) or not artifact.HasField("created_at"):
            return
        age = self._now() - artifact.created_at.ToDatetime(tzinfo=UTC)
        if age > max_age:
            raise _CacheExpired(f"cached artifact {artifact.id} is {age} old (max-cache-age {max_age})")

    async def put(
        self, key: keys.CatalogKey, outputs: literals_pb2.LiteralMap, source: identifier_pb2.TaskExecutionIdentifier
    ) -> CachePut:
        return await self._store(key, outputs, source, overwrite=False)

    async def update(
        self, key: keys.CatalogKey, outputs: literals_pb2.LiteralMap, source: identifier_pb2.TaskExecutionIdentifier
    ) -> CachePut:
        return await self._store(key, outputs, source, overwrite=True)

    async def _store(
        self,
        key: keys.CatalogKey,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
        *,
        overwrite: bool,
    ) -> CachePut:
        dataset_id: datacatalog_pb2.DatasetID | None = None
        try:
            dataset_id = await self._ensure_dataset(key, source)
            if overwrite:
                return await self._update_artifact(key, dataset_id, outputs, source)
            return await self._create_artifact(key, dataset_id, outputs, source)
        except grpc.aio.AioRpcError as err:
            return _put_failure(dataset_id, f"{err.code().name}: {err.details()}")
        except (ValueError, TypeError) as err:  # InvalidCacheKey, or inputs that can't be hashed
            return _put_failure(dataset_id, str(err))

    async def _ensure_dataset(
        self, key: keys.CatalogKey, source: identifier_pb2.TaskExecutionIdentifier
    ) -> datacatalog_pb2.DatasetID:
        dataset_id = keys.dataset_id(key)
        dataset = datacatalog_pb2.Dataset(id=dataset_id, metadata=keys.dataset_metadata(source))
        await self._create(self._stub.CreateDataset, datacatalog_pb2.CreateDatasetRequest(dataset=dataset))
        return dataset_id

    async def _create_artifact(
        self,
        key: keys.CatalogKey,
        dataset_id: datacatalog_pb2.DatasetID,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
    ) -> CachePut:
        artifact = datacatalog_pb2.Artifact(
            id=str(uuid.uuid4()),
            dataset=dataset_id,
            data=keys.artifact_data(outputs),
            metadata=keys.artifact_metadata(source),
        )
        await self._call(self._stub.CreateArtifact, datacatalog_pb2.CreateArtifactRequest(artifact=artifact))
        tag = datacatalog_pb2.Tag(name=keys.tag_name(key), dataset=dataset_id, artifact_id=artifact.id)
        # A datacatalog that refuses to move an existing tag (Flyte's) keeps the first result: still cached.
        await self._create(self._stub.AddTag, datacatalog_pb2.AddTagRequest(tag=tag))
        return CachePut(status=catalog_pb2.CACHE_POPULATED, catalog_key=keys.event_catalog_metadata(dataset_id, tag))

    async def _update_artifact(
        self,
        key: keys.CatalogKey,
        dataset_id: datacatalog_pb2.DatasetID,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
    ) -> CachePut:
        tag_name = keys.tag_name(key)
        request = datacatalog_pb2.UpdateArtifactRequest(
            dataset=dataset_id,
            tag_name=tag_name,
            data=keys.artifact_data(outputs),
            metadata=keys.artifact_metadata(source),
        )
        try:
            response = await self._call(self._stub.UpdateArtifact, request)
        except grpc.aio.AioRpcError as err:
            # Nothing cached yet (first run with overwrite_cache): create it, so overwriting is idempotent.
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return await self._create_artifact(key, dataset_id, outputs, source)
            raise
        tag = datacatalog_pb2.Tag(name=tag_name, dataset=dataset_id, artifact_id=response.artifact_id)
        origin = keys.source_from_metadata(keys.dataset_metadata(source), keys.artifact_metadata(source), key.task_id)
        return CachePut(
            status=catalog_pb2.CACHE_POPULATED, catalog_key=keys.event_catalog_metadata(dataset_id, tag, origin)
        )

    async def get_or_extend_reservation(
        self, key: keys.CatalogKey, owner: str, heartbeat: timedelta
    ) -> ReservationResult:
        interval = duration_pb2.Duration()
        interval.FromTimedelta(heartbeat)
        try:
            request = datacatalog_pb2.GetOrExtendReservationRequest(
                reservation_id=keys.reservation_id(key), owner_id=owner, heartbeat_interval=interval
            )
            reservation = (await self._call(self._stub.GetOrExtendReservation, request)).reservation
        except grpc.aio.AioRpcError as err:
            return _reservation_failure(f"{err.code().name}: {err.details()}")
        except (ValueError, TypeError) as err:  # InvalidCacheKey, or inputs that can't be hashed
            return _reservation_failure(str(err))
        acquired = reservation.owner_id == owner
        return ReservationResult(
            status=ReservationStatus.Value("RESERVATION_ACQUIRED" if acquired else "RESERVATION_EXISTS"),
            owner=reservation.owner_id,
            expires_at=reservation.expires_at.ToDatetime(tzinfo=UTC) if reservation.HasField("expires_at") else None,
            heartbeat_interval=reservation.heartbeat_interval.ToTimedelta(),
        )

    async def release_reservation(self, key: keys.CatalogKey, owner: str) -> ReservationResult:
        try:
            request = datacatalog_pb2.ReleaseReservationRequest(reservation_id=keys.reservation_id(key), owner_id=owner)
            await self._call(self._stub.ReleaseReservation, request)
        except grpc.aio.AioRpcError as err:
            return _reservation_failure(f"{err.code().name}: {err.details()}")
        except (ValueError, TypeError) as err:  # InvalidCacheKey, or inputs that can't be hashed
            return _reservation_failure(str(err))
        return ReservationResult(status=catalog_pb2.CatalogReservation.RESERVATION_RELEASED, owner=owner)

    async def _create(self, method: Callable[..., Awaitable[object]], request: object) -> None:
        """A create (``_call``) whose ALREADY_EXISTS answer means what it creates is there: done."""
        try:
            await self._call(method, request)
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise

    async def _call(self, method: Callable[..., Awaitable[T]], request: object) -> T:
        """One RPC with Flyte's retry policy: transient codes retried with jittered exponential backoff."""
        timeout = self._config.timeout.total_seconds()
        attempt = 0
        while True:
            try:
                return await method(request, timeout=timeout)
            except grpc.aio.AioRpcError as err:
                if err.code() not in _RETRYABLE or attempt >= self._config.max_retries:
                    raise
            await asyncio.sleep(self._backoff(attempt))
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        try:
            jitter = float(self._config.backoff_jitter)
        except ValueError:
            jitter = 0.1
        base = self._config.backoff_scalar / 1000 * (2**attempt)
        return base * (1 + random.uniform(-jitter, jitter))


def _lookup_failure(key: keys.CatalogKey, error: str) -> CacheLookup:
    log.warning("catalog lookup failed for task %s: %s", key.task_id.name, error)
    return CacheLookup(status=catalog_pb2.CACHE_LOOKUP_FAILURE, error=error)


def _put_failure(dataset_id: datacatalog_pb2.DatasetID | None, error: str) -> CachePut:
    log.warning("catalog put failed: %s", error)
    catalog_key = keys.event_catalog_metadata(dataset_id) if dataset_id is not None else None
    return CachePut(status=catalog_pb2.CACHE_PUT_FAILURE, catalog_key=catalog_key, error=error)


def _reservation_failure(error: str) -> ReservationResult:
    log.warning("catalog reservation call failed: %s", error)
    return ReservationResult(status=catalog_pb2.CatalogReservation.RESERVATION_FAILURE, error=error)


def build_catalog_client(
    config: CatalogCacheConfig, default_endpoint: str, auth: Sequence[grpc.aio.ClientInterceptor] = ()
) -> CatalogClient:
    """The client ``catalog-cache.type`` asks for; the endpoint defaults to ``propeller.datacatalogEndpoint``."""
    if config.type == "noop":
        return NoopCatalogClient()
    return DataCatalogClient(config.endpoint or default_endpoint, config, auth=auth)
