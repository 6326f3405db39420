"""Propeller's catalog client against the real datacatalog service (a separate ``aloft-datacatalog`` process)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from flyteidl.core import catalog_pb2, identifier_pb2, interface_pb2, literals_pb2, types_pb2

from aloft_propeller.catalog import keys
from aloft_propeller.catalog.client import DataCatalogClient, NoopCatalogClient, build_catalog_client
from aloft_propeller.catalog.config import CatalogCacheConfig
from aloft_testing.servers import free_port

Reservation = catalog_pb2.CatalogReservation


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _key(x: int, task_name: str, cache_version: str = "1") -> keys.CatalogKey:
    integer = types_pb2.LiteralType(simple=types_pb2.INTEGER)
    interface = interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=integer)}),
        outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=integer)}),
    )
    task_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name=task_name, version="v1"
    )
    return keys.CatalogKey(task_id, cache_version, interface, literals_pb2.LiteralMap(literals={"x": _int(x)}))


def _outputs(value: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"o0": _int(value)})


def _source(execution: str, attempt: int = 0) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(project="flytesnacks", domain="development", name="t", version="v1"),
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id="n0",
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project="flytesnacks", domain="development", name=execution
            ),
        ),
        retry_attempt=attempt,
    )


@pytest.fixture
def task_name() -> str:
    """A fresh task name per test, so tests share the datacatalog process but not datasets."""
    return f"wf.square_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def client(datacatalog_endpoint: str) -> AsyncIterator[DataCatalogClient]:
    built = DataCatalogClient(datacatalog_endpoint, CatalogCacheConfig())
    yield built
    await built.close()


async def test_miss_then_put_then_hit_returns_the_stored_outputs(client: DataCatalogClient, task_name: str) -> None:
    key = _key(3, task_name)
    miss = await client.get(key)
    assert miss.status == catalog_pb2.CACHE_MISS and miss.outputs is None

    put = await client.put(key, _outputs(9), _source("exec-1", attempt=1))
    assert put.status == catalog_pb2.CACHE_POPULATED
    assert put.catalog_key is not None
    assert put.catalog_key.dataset_id.name == f"flyte_task-{task_name}"
    assert put.catalog_key.artifact_tag.name == keys.tag_name(key)

    hit = await client.get(key)
    assert hit.hit and hit.outputs == _outputs(9)
    assert hit.catalog_key is not None
    assert hit.catalog_key.artifact_tag.artifact_id == put.catalog_key.artifact_tag.artifact_id
    source = hit.catalog_key.source_task_execution
    assert (source.node_execution_id.execution_id.name, source.retry_attempt) == ("exec-1", 1)

    # Other inputs, another cache version: both misses.
    assert (await client.get(_key(4, task_name))).status == catalog_pb2.CACHE_MISS
    assert (await client.get(_key(3, task_name, cache_version="2"))).status == catalog_pb2.CACHE_MISS


async def test_second_put_of_the_same_key_succeeds_and_is_served(client: DataCatalogClient, task_name: str) -> None:
    """Two identical runs that both missed both store; Aloft's datacatalog moves the tag to the newer artifact."""
    key = _key(3, task_name)
    assert (await client.put(key, _outputs(9), _source("exec-1"))).status == catalog_pb2.CACHE_POPULATED
    assert (await client.put(key, _outputs(10), _source("exec-2"))).status == catalog_pb2.CACHE_POPULATED
    assert (await client.get(key)).outputs == _outputs(10)


async def test_update_overwrites_the_cached_result(client: DataCatalogClient, task_name: str) -> None:
    key = _key(3, task_name)
    # Overwriting with nothing cached yet creates the entry (idempotent overwrite).
    assert (await client.update(key, _outputs(9), _source("exec-1"))).status == catalog_pb2.CACHE_POPULATED
    assert (await client.get(key)).outputs == _outputs(9)
    updated = await client.update(key, _outputs(11), _source("exec-2"))
    assert updated.status == catalog_pb2.CACHE_POPULATED
    hit = await client.get(key)
    assert hit.outputs == _outputs(11)
    assert hit.catalog_key is not None
    assert hit.catalog_key.source_task_execution.node_execution_id.execution_id.name == "exec-2"


async def test_reservation_is_held_by_one_owner_at_a_time(client: DataCatalogClient, task_name: str) -> None:
    key = _key(3, task_name)
    first = await client.get_or_extend_reservation(key, "owner-a", timedelta(seconds=5))
    assert first.acquired and first.owner == "owner-a"
    second = await client.get_or_extend_reservation(key, "owner-b", timedelta(seconds=5))
    assert second.status == Reservation.RESERVATION_EXISTS and second.owner == "owner-a"
    # The holder's heartbeat extends its reservation.
    extended = await client.get_or_extend_reservation(key, "owner-a", timedelta(seconds=5))
    assert extended.acquired
    assert first.expires_at is not None and extended.expires_at is not None
    assert extended.expires_at >= first.expires_at

    # Releasing someone else's reservation is refused (a failure status, not an exception) and changes nothing.
    refused = await client.release_reservation(key, "owner-b")
    assert refused.status == Reservation.RESERVATION_FAILURE and "FAILED_PRECONDITION" in refused.error
    assert (await client.get_or_extend_reservation(key, "owner-b", timedelta(seconds=5))).owner == "owner-a"
    assert (await client.release_reservation(key, "owner-a")).status == Reservation.RESERVATION_RELEASED
    taken = await client.get_or_extend_reservation(key, "owner-b", timedelta(seconds=5))
    assert taken.acquired and taken.owner == "owner-b"


async def test_reservation_expires_without_heartbeats(client: DataCatalogClient, task_name: str) -> None:
    key = _key(3, task_name)
    held = await client.get_or_extend_reservation(key, "owner-a", timedelta(seconds=1))
    assert held.acquired and held.expires_at is not None
    # Wait (by the server's own expiry timestamp) until the holder missed its heartbeat, then another owner takes over.
    while datetime.now(UTC) <= held.expires_at:
        await asyncio.sleep(0.2)
    for _ in range(50):
        taken = await client.get_or_extend_reservation(key, "owner-b", timedelta(seconds=1))
        if taken.acquired:
            break
        await asyncio.sleep(0.1)
    assert taken.acquired and taken.owner == "owner-b"


async def test_concurrent_reservations_grant_exactly_one_owner(client: DataCatalogClient, task_name: str) -> None:
    key = _key(5, task_name)
    results = await asyncio.gather(
        *(client.get_or_extend_reservation(key, f"owner-{i}", timedelta(seconds=5)) for i in range(6))
    )
    winners = [result.owner for result in results if result.acquired]
    assert len(winners) == 1
    assert all(result.owner == winners[0] for result in results)


async def test_max_cache_age_turns_old_artifacts_into_misses(datacatalog_endpoint: str, task_name: str) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    config = CatalogCacheConfig.model_validate({"max-cache-age": "1h"})
    aged = DataCatalogClient(datacatalog_endpoint, config, now=lambda: later)
    fresh = DataCatalogClient(datacatalog_endpoint, config)
    try:
        key = _key(3, task_name)
        await fresh.put(key, _outputs(9), _source("exec-1"))
        assert (await fresh.get(key)).hit
        expired = await aged.get(key)
        assert expired.status == catalog_pb2.CACHE_MISS and "max-cache-age" in expired.error
    finally:
        await aged.close()
        await fresh.close()


async def test_artifact_not_matching_the_interface_is_a_lookup_failure(
    client: DataCatalogClient, task_name: str
) -> None:
    key = _key(3, task_name)
    await client.put(key, literals_pb2.LiteralMap(literals={"wrong": _int(1)}), _source("exec-1"))
    lookup = await client.get(key)
    assert lookup.status == catalog_pb2.CACHE_LOOKUP_FAILURE and "'wrong' is not an output" in lookup.error


async def test_unreachable_catalog_reports_failure_statuses_instead_of_raising(task_name: str) -> None:
    config = CatalogCacheConfig.model_validate({"max-retries": 1, "base-scalar": 1, "timeout": "2s"})
    down = DataCatalogClient(f"127.0.0.1:{free_port()}", config)
    try:
        key = _key(3, task_name)
        assert (await down.get(key)).status == catalog_pb2.CACHE_LOOKUP_FAILURE
        assert (await down.put(key, _outputs(9), _source("e"))).status == catalog_pb2.CACHE_PUT_FAILURE
        reservation = await down.get_or_extend_reservation(key, "owner-a", timedelta(seconds=1))
        assert reservation.status == Reservation.RESERVATION_FAILURE and "UNAVAILABLE" in reservation.error
        assert (await down.release_reservation(key, "owner-a")).status == Reservation.RESERVATION_FAILURE
    finally:
        await down.close()


async def test_empty_cache_version_is_a_failure_status_not_an_exception(
    client: DataCatalogClient, task_name: str
) -> None:
    key = _key(3, task_name, cache_version="")
    assert (await client.get(key)).status == catalog_pb2.CACHE_LOOKUP_FAILURE
    assert (await client.put(key, _outputs(1), _source("e"))).status == catalog_pb2.CACHE_PUT_FAILURE


async def test_noop_type_disables_caching(task_name: str) -> None:
    noop = build_catalog_client(CatalogCacheConfig.model_validate({"type": "noop"}), "unused:1")
    assert isinstance(noop, NoopCatalogClient)
    key = _key(3, task_name)
    assert (await noop.put(key, _outputs(9), _source("e"))).status == catalog_pb2.CACHE_DISABLED
    assert (await noop.get(key)).status == catalog_pb2.CACHE_DISABLED
    reservation = await noop.get_or_extend_reservation(key, "a", timedelta(seconds=1))
    assert reservation.status == Reservation.RESERVATION_DISABLED
