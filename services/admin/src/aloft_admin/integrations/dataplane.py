"""How admin hands executions to data planes (aloft.dataplane.v1 DataPlaneService).

Contract of ``DataPlaneClient``:
- ``route(cluster_label, seed)`` picks the data plane for an execution as flyteadmin's cluster selector does: the
  clusters of the label (its ``labelClusterMap`` group, else the enabled clusters with that name or label), else of
  ``defaultExecutionLabel``, else every enabled cluster; among them one at random by weight, seeded by the
  execution id (the same execution always gets the same answer). A label naming no enabled cluster is
  INVALID_ARGUMENT naming the label; None when no data plane is enabled at all. Disabled clusters get nothing new.
- ``create_execution`` is idempotent on the data plane's side (same id + spec → ``already_existed``), so the
  hand-off may be retried any number of times (the repair loop does).
- The gRPC client sends the creates (and the starts) waiting together for one data plane in one call
  (CreateExecutions / StartExecutions, as ``handoff_marks`` groups the commits): while one call is in flight the
  next ones gather, each caller gets its own request's answer, and nothing is sent earlier or acknowledged
  differently than one call per request would. A data plane that answers UNIMPLEMENTED (it predates the batch
  RPCs) gets one call per request from then on.
- Admin creates executions with ``hold`` (two-phase hand-off) and releases them with ``start_execution`` once the
  hand-off is committed; ``start_execution`` is a no-op for started, aborted or finished executions.
- ``abort_execution`` is a no-op on the data plane for finished executions, so it may be retried too. When the
  data plane does not hold the execution (NOT_FOUND) it raises ``DataPlaneRefused``: no end event will come.
- Both raise ``DataPlaneUnavailable`` when the data plane cannot be reached or is overloaded; callers keep the
  execution recorded and retry later ("write the side effect's owner first"). ``DataPlaneRefused`` is a permanent
  answer (the request itself is wrong for that data plane): retrying cannot help, the execution ends FAILED.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import grpc
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from aloft_auth.client import client_interceptors
from aloft_auth.config import AuthConfig
from aloft_auth.mtls import OutgoingCalls, aio_channel
from flyteidl.core import identifier_pb2

from aloft_admin.config import AdminConfig, ClustersConfig, DataPlaneConfig
from aloft_service.errors import InvalidArgument

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 10.0


class DataPlaneUnavailable(Exception):
    """The data plane could not take the request now (unreachable, overloaded or refused)."""


class DataPlaneRefused(Exception):
    """The data plane answered that it will never take this request (INVALID_ARGUMENT, FAILED_PRECONDITION ...)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


# Answers that mean "this request is wrong", not "try later": retrying the same request gets the same answer.
PERMANENT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


def _call_failed(cluster: str, exc: grpc.aio.AioRpcError) -> Exception:
    return _failure(cluster, exc.code(), exc.details() or "")


def _failure(cluster: str, code: grpc.StatusCode, details: str) -> Exception:
    message = f"data plane {cluster!r}: {code.name}: {details}"
    if code in PERMANENT_CODES:
        return DataPlaneRefused(code, message)
    return DataPlaneUnavailable(message)


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _item_failure(cluster: str, status: dataplane_pb2.BatchItemStatus) -> Exception | None:
    """None when one request of a batch succeeded, else what its single-request call would have raised."""
    if status.code == 0:
        return None
    return _failure(cluster, _CODES.get(status.code, grpc.StatusCode.UNKNOWN), status.message)


# Requests per batch call: bounds the message size (a create request is about 1 KB).
MAX_BATCH = 200
Req = TypeVar("Req")
Res = TypeVar("Res")


async def _caught(call: Awaitable[Res]) -> Res | Exception:
    try:
        return await call
    except Exception as exc:  # noqa: BLE001 - the request's own answer, handed to its caller
        return exc


class _Batches(Generic[Req, Res]):
    """``await submit(request)`` answers one request; the requests waiting while a call is in flight go in the next.

    ``send`` makes one call for a batch and returns each request's response or exception, in order.
    """

    def __init__(self, send: Callable[[list[Req]], Awaitable[Sequence[Res | Exception]]], name: str) -> None:
        self._send = send
        self._name = name
        self._waiting: list[tuple[Req, asyncio.Future[Res]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, request: Req) -> Res:
        answer: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_all(), name=self._name)
        return await answer

    async def _send_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                outcomes = await self._send([request for request, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every request of the call fails as its own call would have
                outcomes = [exc] * len(batch)
            for (_, answer), outcome in zip(batch, outcomes, strict=True):
                if answer.done():
                    continue
                if isinstance(outcome, Exception):
                    answer.set_exception(outcome)
                else:
                    answer.set_result(outcome)


class DataPlaneClient(Protocol):
    def route(self, cluster_label: str, seed: str = "") -> str | None: ...

    async def create_execution(
        self, cluster: str, request: dataplane_pb2.CreateExecutionRequest
    ) -> dataplane_pb2.CreateExecutionResponse: ...

    async def start_execution(self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier) -> None: ...

    async def abort_execution(
        self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier, cause: str, principal: str = ""
    ) -> None: ...

    async def close(self) -> None: ...


def routing_seed(wid: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    """What seeds the weighted choice: the execution id, so a retried hand-off picks the same cluster."""
    return f"{wid.org}/{wid.project}/{wid.domain}/{wid.name}"


class ClusterRouter:
    def __init__(self, planes: list[DataPlaneConfig], clusters: ClustersConfig | None = None) -> None:
        clusters = clusters or ClustersConfig()
        self._enabled = {plane.name: plane for plane in planes if plane.enabled}
        self._groups = clusters.labelClusterMap
        self._default_label = clusters.defaultExecutionLabel

    def candidates(self, label: str) -> list[tuple[str, float]]:
        """The enabled clusters an execution with ``label`` may go to, with their weights."""
        if not label:
            return [(name, plane.weight) for name, plane in self._enabled.items()]
        group = self._groups.get(label)
        if group is not None:
            return [(target.id, target.weight) for target in group if target.id in self._enabled]
        return [(name, p.weight) for name, p in self._enabled.items() if name == label or label in p.labels]

    def choose(self, label: str, seed: str = "") -> str | None:
        label = label or self._default_label
        pool = self.candidates(label)
        if not pool:
            if not label:
                return None
            known = sorted({*self._groups, *self._enabled, *(lb for p in self._enabled.values() for lb in p.labels)})
            raise InvalidArgument(f"execution cluster label {label!r} names no enabled cluster (labels: {known})")
        if len(pool) == 1:
            return pool[0][0]  # what the weighted draw below gives one cluster, without seeding a generator for it
        total = sum(weight for _, weight in pool)
        point = random.Random(seed).uniform(0, total) if seed else random.uniform(0, total)
        for name, weight in pool:
            point -= weight
            if point <= 0:
                return name
        return pool[-1][0]


class GrpcDataPlaneClient:
    """One lazily opened gRPC channel per configured data plane."""

    def __init__(
        self, planes: list[DataPlaneConfig], clusters: ClustersConfig | None = None, auth: AuthConfig | None = None
    ) -> None:
        self.planes = {plane.name: plane for plane in planes}
        self.auth = auth or AuthConfig()
        self.router = ClusterRouter(planes, clusters)
        self._channels: dict[str, grpc.aio.Channel] = {}
        # A stub builds a callable per method: one per channel, not one per call.
        self._stubs: dict[str, dataplane_pb2_grpc.DataPlaneServiceStub] = {}
        self._creates: dict[
            str, _Batches[dataplane_pb2.CreateExecutionRequest, dataplane_pb2.CreateExecutionResponse]
        ] = {}
        self._starts: dict[str, _Batches[identifier_pb2.WorkflowExecutionIdentifier, None]] = {}
        self._unbatched: set[str] = set()  # data planes that answered UNIMPLEMENTED to a batch RPC

    def route(self, cluster_label: str, seed: str = "") -> str | None:
        return self.router.choose(cluster_label, seed)

    def _stub(self, cluster: str) -> dataplane_pb2_grpc.DataPlaneServiceStub:
        plane = self.planes.get(cluster)
        if plane is None or not plane.enabled:
            raise DataPlaneUnavailable(f"data plane {cluster!r} is not configured or not enabled")
        stub = self._stubs.get(cluster)
        if stub is None:
            channel = self._channels[cluster] = open_channel(plane, self.auth)
            stub = self._stubs[cluster] = dataplane_pb2_grpc.DataPlaneServiceStub(channel)
        return stub

    async def create_execution(
        self, cluster: str, request: dataplane_pb2.CreateExecutionRequest
    ) -> dataplane_pb2.CreateExecutionResponse:
        self._stub(cluster)  # not configured or not enabled: unavailable at once, as before
        batches = self._creates.get(cluster)
        if batches is None:
            send = lambda batch: self._create_batch(cluster, batch)  # noqa: E731
            batches = self._creates[cluster] = _Batches(send, f"admin-creates-{cluster}")
        return await batches.submit(request)

    async def start_execution(self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        self._stub(cluster)
        batches = self._starts.get(cluster)
        if batches is None:
            send = lambda batch: self._start_batch(cluster, batch)  # noqa: E731
            batches = self._starts[cluster] = _Batches(send, f"admin-starts-{cluster}")
        await batches.submit(id)

    async def _create_batch(
        self, cluster: str, requests: list[dataplane_pb2.CreateExecutionRequest]
    ) -> Sequence[dataplane_pb2.CreateExecutionResponse | Exception]:
        if cluster not in self._unbatched:
            batch = dataplane_pb2.CreateExecutionsRequest(requests=requests)
            try:
                answer = await self._stub(cluster).CreateExecutions(batch, timeout=CALL_TIMEOUT_SECONDS)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    return [_call_failed(cluster, exc) for _ in requests]
                self._unbatched.add(cluster)
            else:
                return self._each(cluster, [(r.status, r.response) for r in answer.results], len(requests))
        return await asyncio.gather(*(_caught(self._create_one(cluster, r)) for r in requests))

    async def _start_batch(
        self, cluster: str, ids: list[identifier_pb2.WorkflowExecutionIdentifier]
    ) -> Sequence[Exception | None]:
        if cluster not in self._unbatched:
            batch = dataplane_pb2.StartExecutionsRequest(
                requests=[dataplane_pb2.StartExecutionRequest(id=i) for i in ids]
            )
            try:
                answer = await self._stub(cluster).StartExecutions(batch, timeout=CALL_TIMEOUT_SECONDS)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    return [_call_failed(cluster, exc) for _ in ids]
                self._unbatched.add(cluster)
            else:
                return self._each(cluster, [(r.status, None) for r in answer.results], len(ids))
        return await asyncio.gather(*(_caught(self._start_one(cluster, i)) for i in ids))

    @staticmethod
    def _each(
        cluster: str, results: list[tuple[dataplane_pb2.BatchItemStatus, Res]], sent: int
    ) -> list[Res | Exception]:
        if len(results) != sent:
            failed = DataPlaneUnavailable(f"data plane {cluster!r}: {len(results)} results for {sent} requests")
            return [failed] * sent
        return [_item_failure(cluster, status) or response for status, response in results]

    async def _create_one(
        self, cluster: str, request: dataplane_pb2.CreateExecutionRequest
    ) -> dataplane_pb2.CreateExecutionResponse:
        try:
            response: dataplane_pb2.CreateExecutionResponse = await self._stub(cluster).CreateExecution(
                request, timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise _call_failed(cluster, exc) from exc
        return response

    async def _start_one(self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        try:
            await self._stub(cluster).StartExecution(
                dataplane_pb2.StartExecutionRequest(id=id), timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise _call_failed(cluster, exc) from exc

    async def abort_execution(
        self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier, cause: str, principal: str = ""
    ) -> None:
        request = dataplane_pb2.AbortExecutionRequest(id=id, cause=cause, principal=principal)
        try:
            await self._stub(cluster).AbortExecution(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise _call_failed(cluster, exc) from exc

    async def close(self) -> None:
        channels, self._channels, self._stubs = self._channels, {}, {}
        self._creates, self._starts = {}, {}
        for channel in channels.values():
            await channel.close()


def _client_credentials(plane: DataPlaneConfig, auth_config: AuthConfig) -> OutgoingCalls:
    """With auth on, calls carry client-credentials tokens: the cluster's own client (``auth.type:
    client_credentials``) or the platform's ``auth.internal`` one."""
    auth = plane.auth
    client = auth_config.internal
    if auth.type == "client_credentials":
        client = client.model_copy(
            update={"clientId": auth.clientId, "clientSecretLocation": auth.clientSecretLocation}
        )
    return client_interceptors(auth_config, client)


def open_channel(plane: DataPlaneConfig, auth_config: AuthConfig | None = None) -> grpc.aio.Channel:
    """A channel to the data plane with its ``auth`` settings: the CA bundle makes it TLS, the token is sent as a
    bearer token with every call (both re-read when the channel is reopened, so rotated files take effect); with
    ``auth.enabled`` a client-credentials token is sent instead of a token file."""
    auth = plane.auth
    interceptors = _client_credentials(plane, auth_config or AuthConfig())
    if interceptors.credentials is not None:  # auth.mutualTls: admin's client certificate
        return aio_channel(plane.endpoint, interceptors)
    if auth.type != "file_path":
        if auth.certPath:
            credentials = grpc.ssl_channel_credentials(root_certificates=Path(auth.certPath).read_bytes())
            return grpc.aio.secure_channel(plane.endpoint, credentials, interceptors=interceptors)
        return grpc.aio.insecure_channel(plane.endpoint, interceptors=interceptors)
    ca = Path(auth.certPath).read_bytes() if auth.certPath else None
    credentials = grpc.ssl_channel_credentials(root_certificates=ca)
    if auth.tokenPath:
        token = Path(auth.tokenPath).read_text().strip()
        credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(token))
    return grpc.aio.secure_channel(plane.endpoint, credentials, interceptors=interceptors)


class NoDataPlanes:
    """The client when no data plane is configured: nothing is routed, every call is DataPlaneUnavailable (so
    executions stay recorded with their hand-off pending until a data plane is configured)."""

    def route(self, cluster_label: str, seed: str = "") -> str | None:
        return None

    async def create_execution(
        self, cluster: str, request: dataplane_pb2.CreateExecutionRequest
    ) -> dataplane_pb2.CreateExecutionResponse:
        raise DataPlaneUnavailable(f"data plane {cluster!r} is not configured or not enabled")

    async def start_execution(self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        raise DataPlaneUnavailable(f"data plane {cluster!r} is not configured or not enabled")

    async def abort_execution(
        self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier, cause: str, principal: str = ""
    ) -> None:
        raise DataPlaneUnavailable(f"data plane {cluster!r} is not configured or not enabled")

    async def close(self) -> None:
        return None


def build_dataplane_client(config: AdminConfig) -> DataPlaneClient:
    """The factory server.py calls: a gRPC client for the configured data planes, the no-op one for none."""
    planes = config.data_planes()
    if not planes:
        return NoDataPlanes()
    return GrpcDataPlaneClient(planes, config.clusters, config.auth)
