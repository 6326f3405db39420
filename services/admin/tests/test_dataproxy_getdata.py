"""GetData / CreateDownloadLink for flyte:// URLs, read through the AdminService execution RPCs.

The execution RPCs belong to another area; here an in-memory ExecutionDataSource that answers like them (same
request/response messages, NotFound for unknown ids) stands in, so the data proxy's own rules are what is tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from flyteidl.admin import common_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import dataproxy_pb2

from aloft_admin.config import AdminConfig
from aloft_admin.managers.dataproxy import DataProxyManager, parse_flyte_url
from aloft_admin.transformers.timestamps import utcnow
from aloft_service.errors import FailedPrecondition, InvalidArgument, NotFound
from aloft_storage import create_blob_store


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _map(**values: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={k: _int(v) for k, v in values.items()})


class InMemoryExecutions:
    """Answers the four execution reads the data proxy uses (ExecutionReads), for one node with two attempts."""

    def __init__(self, deck_uri: str, offloaded_outputs_uri: str) -> None:
        self.deck_uri = deck_uri
        self.offloaded_outputs_uri = offloaded_outputs_uri

    def _known(self, node: identifier_pb2.NodeExecutionIdentifier) -> None:
        if (node.execution_id.name, node.node_id) not in {("exec1", "n0"), ("exec1", "big")}:
            raise NotFound(f"node execution {node.execution_id.name}/{node.node_id} does not exist")

    async def get_node_execution(self, request: Any) -> node_execution_pb2.NodeExecution:
        self._known(request.id)
        closure = node_execution_pb2.NodeExecutionClosure(deck_uri=self.deck_uri)
        if request.id.node_id == "big":
            closure.output_uri = self.offloaded_outputs_uri
        return node_execution_pb2.NodeExecution(id=request.id, closure=closure)

    async def get_node_execution_data(self, request: Any) -> node_execution_pb2.NodeExecutionGetDataResponse:
        self._known(request.id)
        if request.id.node_id == "big":  # too large to inline: only a (signed) URL and the size
            return node_execution_pb2.NodeExecutionGetDataResponse(
                outputs=common_pb2.UrlBlob(url="https://signed.example/outputs.pb", bytes=10**7)
            )
        return node_execution_pb2.NodeExecutionGetDataResponse(full_inputs=_map(x=1), full_outputs=_map(o0=2))

    async def list_task_executions(self, request: Any) -> task_execution_pb2.TaskExecutionList:
        self._known(request.node_execution_id)
        attempt = int(request.filters.removeprefix("eq(retry_attempt,").removesuffix(")"))
        if attempt > 1:
            return task_execution_pb2.TaskExecutionList()
        task_id = identifier_pb2.TaskExecutionIdentifier(
            node_execution_id=request.node_execution_id, retry_attempt=attempt
        )
        return task_execution_pb2.TaskExecutionList(task_executions=[task_execution_pb2.TaskExecution(id=task_id)])

    async def get_task_execution_data(self, request: Any) -> task_execution_pb2.TaskExecutionGetDataResponse:
        attempt = request.id.retry_attempt
        return task_execution_pb2.TaskExecutionGetDataResponse(
            full_inputs=_map(x=1), full_outputs=_map(o0=100 + attempt)
        )


@pytest.fixture
def manager(tmp_path: Path) -> DataProxyManager:
    config = AdminConfig.model_validate({"stack": {"dataDir": str(tmp_path)}})
    blobs = create_blob_store(config.storage, base_dir=tmp_path)
    executions = InMemoryExecutions(
        blobs.uri("raw", "decks", "exec1", "n0", "deck.html"), blobs.uri("big", "outputs.pb")
    )
    return DataProxyManager(blobs, utcnow, config.admin, executions)


async def _get(manager: DataProxyManager, url: str) -> dataproxy_pb2.GetDataResponse:
    return await manager.get_data(dataproxy_pb2.GetDataRequest(flyte_url=url))


def test_parse_flyte_url() -> None:
    parsed = parse_flyte_url("flyte://v1/flytesnacks/development/exec1/n0-0-n1/2/o/o0")
    assert (parsed.node_execution_id.node_id, parsed.attempt, parsed.io, parsed.name) == ("n0-0-n1", 2, "o", "o0")
    assert parsed.node_execution_id.execution_id.project == "flytesnacks"


async def test_node_inputs_outputs_and_single_literals(manager: DataProxyManager) -> None:
    inputs = await _get(manager, "flyte://v1/p/d/exec1/n0/i")
    assert inputs.literal_map == _map(x=1)
    output = await _get(manager, "flyte://v1/p/d/exec1/n0/o/o0")
    assert output.literal == _int(2)
    with pytest.raises(InvalidArgument, match="missing"):
        await _get(manager, "flyte://v1/p/d/exec1/n0/o/missing")
    with pytest.raises(NotFound):
        await _get(manager, "flyte://v1/p/d/other/n0/o")


async def test_outputs_too_large_to_inline_are_read_from_their_native_uri(manager: DataProxyManager) -> None:
    await manager.blobs.write_proto(manager.blobs.uri("big", "outputs.pb"), _map(o0=7, o1=8))
    assert (await _get(manager, "flyte://v1/p/d/exec1/big/o")).literal_map == _map(o0=7, o1=8)
    assert (await _get(manager, "flyte://v1/p/d/exec1/big/o/o1")).literal == _int(8)


async def test_attempt_urls_read_that_task_execution(manager: DataProxyManager) -> None:
    assert (await _get(manager, "flyte://v1/p/d/exec1/n0/1/o/o0")).literal == _int(101)
    with pytest.raises(InvalidArgument, match="attempt 5"):
        await _get(manager, "flyte://v1/p/d/exec1/n0/5/o")
    with pytest.raises(InvalidArgument, match="deck"):
        await _get(manager, "flyte://v1/p/d/exec1/n0/1/d")


async def test_deck_is_a_presigned_link_once_it_exists(manager: DataProxyManager) -> None:
    with pytest.raises(NotFound, match="does not exist yet"):
        await _get(manager, "flyte://v1/p/d/exec1/n0/d")
    deck = manager.blobs.uri("raw", "decks", "exec1", "n0", "deck.html")
    await manager.blobs.write(deck, b"<html>deck</html>")
    reply = await _get(manager, "flyte://v1/p/d/exec1/n0/d")
    assert len(reply.pre_signed_urls.signed_url) == 1
    key = manager.blobs.key(deck)  # type: ignore[attr-defined]
    assert f"/api/v1/blobs/{key}?" in reply.pre_signed_urls.signed_url[0]
    link = await manager.create_download_link(
        dataproxy_pb2.CreateDownloadLinkRequest(
            artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK,
            node_execution_id=parse_flyte_url("flyte://v1/p/d/exec1/n0/d").node_execution_id,
        )
    )
    assert link.signed_url and link.pre_signed_urls.signed_url == link.signed_url


async def test_without_execution_rpcs_get_data_is_a_failed_precondition(tmp_path: Path) -> None:
    config = AdminConfig.model_validate({"stack": {"dataDir": str(tmp_path)}})
    blobs = create_blob_store(config.storage, base_dir=tmp_path)
    with pytest.raises(FailedPrecondition):
        await DataProxyManager(blobs, utcnow, config.admin, executions=None).get_data(
            dataproxy_pb2.GetDataRequest(flyte_url="flyte://v1/p/d/e/n0/i")
        )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # storage behaviour: one backend is enough
async def test_get_data_over_rest_with_query_parameter(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    native = blobs.uri("raw", "file.txt")
    await blobs.write(native, b"raw data")
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        reply = await client.get("/api/v1/data", params={"flyte_url": native})
        assert reply.status_code == 200, reply.text
        signed = reply.json()["pre_signed_urls"]["signed_url"][0]
        assert (await client.get(signed)).content == b"raw data"
