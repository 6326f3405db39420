"""RecoverExecution across data planes: which nodes the original execution succeeded, as admin recorded them.

When the original's workflow state is held by this data plane, the executor reads it from the store. Otherwise
(it ran on another data plane, or its state was purged) the source is admin, as with flytepropeller's recovery
client: the original's node executions (ListNodeExecutions, descending into parent nodes that did not succeed as a
whole) and, for each succeeded one, its outputs (GetNodeExecutionData). Outputs admin returns inline are written
under the new execution's node directory, so the recovered run does not depend on the original's blob store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import grpc
from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2

from aloft_propeller import paths
from aloft_propeller.admin_channel import LazyAdminStub
from aloft_service.errors import Unavailable
from aloft_storage import BlobStore

log = logging.getLogger(__name__)

_CALL_TIMEOUT = 10.0
_PAGE = 100
_MAX_DEPTH = 16  # nested subworkflows / dynamic nodes deeper than this are re-run rather than recovered


class RecoverySource(Protocol):
    async def succeeded_nodes(
        self, original: identifier_pb2.WorkflowExecutionIdentifier, execution_uri: str
    ) -> dict[str, str]:
        """Node path → outputs URI for every node the original succeeded; empty when admin does not know it."""
        ...

    async def close(self) -> None: ...


class AdminRecoverySource:
    """Reads the original's node executions from admin (``propeller.adminEndpoint``); the channel opens on use."""

    def __init__(
        self, endpoint: str, blobs: BlobStore, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()
    ) -> None:
        self._admin = LazyAdminStub(endpoint, interceptors)
        self._blobs = blobs

    async def succeeded_nodes(
        self, original: identifier_pb2.WorkflowExecutionIdentifier, execution_uri: str
    ) -> dict[str, str]:
        recovered: dict[str, str] = {}
        try:
            await self._collect(original, "", execution_uri, recovered, depth=0)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                log.warning("cannot recover from %s: admin does not know it; running every node", original.name)
                return {}
            # Never fall back to re-running everything on a hiccup: the round is retried later.
            raise Unavailable(f"reading {original.name}'s node executions from admin failed: {exc.details()}") from exc
        return recovered

    async def _collect(
        self,
        original: identifier_pb2.WorkflowExecutionIdentifier,
        parent: str,
        execution_uri: str,
        recovered: dict[str, str],
        depth: int,
    ) -> None:
        token = ""
        while True:
            page: node_execution_pb2.NodeExecutionList = await self._admin().ListNodeExecutions(
                node_execution_pb2.NodeExecutionListRequest(
                    workflow_execution_id=original, limit=_PAGE, token=token, unique_parent_id=parent
                ),
                timeout=_CALL_TIMEOUT,
            )
            for node in page.node_executions:
                if node.closure.phase == core.NodeExecution.SUCCEEDED:
                    recovered[node.id.node_id] = await self._outputs(node.id, execution_uri)
                elif node.metadata.is_parent_node and depth < _MAX_DEPTH:
                    await self._collect(original, node.id.node_id, execution_uri, recovered, depth + 1)
            token = page.token
            if not token:
                return

    async def _outputs(self, node_id: identifier_pb2.NodeExecutionIdentifier, execution_uri: str) -> str:
        data: node_execution_pb2.NodeExecutionGetDataResponse = await self._admin().GetNodeExecutionData(
            node_execution_pb2.NodeExecutionGetDataRequest(id=node_id), timeout=_CALL_TIMEOUT
        )
        if data.outputs.url and not data.full_outputs.literals:
            return data.outputs.url  # too large to inline (or empty): read in place
        uri = paths.outputs_uri(f"{paths.node_dir(execution_uri, node_id.node_id)}/recovered")
        await self._blobs.write_proto(uri, data.full_outputs)
        return uri

    async def close(self) -> None:
        await self._admin.close()
