"""GetData / CreateDownloadLink end to end: execution data recorded through admin's own event RPCs, read back
through the DataProxyService with flyte:// URLs (gRPC and REST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import timestamp_pb2

from aloft_admin.repositories.models.executions import ExecutionModel

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # event persistence is tested by its owner

CLUSTER = "default"
WID = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="dp1")
NODE = identifier_pb2.NodeExecutionIdentifier(execution_id=WID, node_id="n0")
TASK_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name="t1", version="v1"
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(T0 + timedelta(seconds=seconds))
    return stamp


def _ints(**values: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(
        literals={
            k: literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=v)))
            for k, v in values.items()
        }
    )


async def _seed_execution(admin_server: Any) -> None:
    """An execution row as CreateExecution leaves it after the data-plane hand-off (no launch plan needed)."""
    now = datetime.now(UTC)
    async with admin_server.deps.db.session() as session:
        session.add(
            ExecutionModel(
                project=WID.project,
                domain=WID.domain,
                name=WID.name,
                phase="QUEUED",
                cluster=CLUSTER,
                spec=execution_pb2.ExecutionSpec().SerializeToString(),
                closure=execution_pb2.ExecutionClosure().SerializeToString(),
                handoff="done",
                created_at=now,
                updated_at=now,
                execution_created_at=now,
                execution_updated_at=now,
            )
        )


async def _record_node_with_two_attempts(admin_server: Any, deck_uri: str) -> None:
    admin = admin_server.admin

    async def node(phase: int, t: float, **kw: Any) -> None:
        event = event_pb2.NodeExecutionEvent(id=NODE, phase=phase, occurred_at=_at(t), producer_id=CLUSTER, **kw)
        await admin.CreateNodeEvent(admin_event_pb2.NodeExecutionEventRequest(request_id=f"n{t}", event=event))

    async def task(attempt: int, phase: int, t: float, **kw: Any) -> None:
        event = event_pb2.TaskExecutionEvent(
            task_id=TASK_ID,
            parent_node_execution_id=NODE,
            retry_attempt=attempt,
            phase=phase,
            occurred_at=_at(t),
            producer_id=CLUSTER,
            **kw,
        )
        await admin.CreateTaskEvent(admin_event_pb2.TaskExecutionEventRequest(request_id=f"t{t}", event=event))

    await node(core.NodeExecution.RUNNING, 1, input_data=_ints(x=1))
    await task(0, core.TaskExecution.RUNNING, 2)
    await task(0, core.TaskExecution.FAILED, 3, error=core.ExecutionError(code="OOM", message="killed"))
    await task(1, core.TaskExecution.RUNNING, 4)
    await task(1, core.TaskExecution.SUCCEEDED, 5, output_data=_ints(o0=11))
    await node(core.NodeExecution.SUCCEEDED, 6, output_data=_ints(o0=11), deck_uri=deck_uri)


async def test_flyte_urls_resolve_to_recorded_execution_data(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    deck = blobs.uri("raw", "flytesnacks", "development", "dp1", "n0", "deck.html")
    await _seed_execution(admin_server)
    await _record_node_with_two_attempts(admin_server, deck)

    async def get(url: str) -> dataproxy_pb2.GetDataResponse:
        reply: dataproxy_pb2.GetDataResponse = await admin_server.dataproxy.GetData(
            dataproxy_pb2.GetDataRequest(flyte_url=url)
        )
        return reply

    assert (await get("flyte://v1/flytesnacks/development/dp1/n0/i")).literal_map == _ints(x=1)
    assert (await get("flyte://v1/flytesnacks/development/dp1/n0/o/o0")).literal == _ints(o0=11).literals["o0"]
    assert (await get("flyte://v1/flytesnacks/development/dp1/n0/1/o")).literal_map == _ints(o0=11)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await get("flyte://v1/flytesnacks/development/dp1/n0/o/nope")
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as no_deck_yet:
        await get("flyte://v1/flytesnacks/development/dp1/n0/d")
    assert no_deck_yet.value.code() == grpc.StatusCode.NOT_FOUND

    await blobs.write(deck, b"<html>deck</html>")
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        link = await client.post(
            "/api/v1/dataproxy/artifact_link",
            json={
                "artifact_type": "ARTIFACT_TYPE_DECK",
                "node_execution_id": {
                    "node_id": "n0",
                    "execution_id": {"project": "flytesnacks", "domain": "development", "name": "dp1"},
                },
            },
        )
        assert link.status_code == 200, link.text
        assert (await client.get(link.json()["signed_url"][0])).content == b"<html>deck</html>"
        rest = await client.get("/api/v1/data", params={"flyte_url": "flyte://v1/flytesnacks/development/dp1/n0/i"})
        assert rest.json()["literal_map"]["literals"]["x"]["scalar"]["primitive"]["integer"] == "1"
