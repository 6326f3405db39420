"""TaskCache (the reusable per-attempt cache steps, also for array sub-tasks) against the real datacatalog."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from flyteidl.core import catalog_pb2, identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from prometheus_client import REGISTRY

from aloft_propeller.catalog.client import DataCatalogClient
from aloft_propeller.catalog.config import CatalogCacheConfig
from aloft_propeller.catalog.task_cache import Decision, TaskCache, cache_key, is_cacheable, is_serializable

Reservation = catalog_pb2.CatalogReservation
PROJECT, DOMAIN = "flytesnacks", "development"


def _metric(name: str) -> float:
    value = REGISTRY.get_sample_value(f"flyte:propeller:all:node:{name}_total", {"project": PROJECT, "domain": DOMAIN})
    return value or 0.0


def _template(serializable: bool) -> tasks_pb2.TaskTemplate:
    integer = types_pb2.LiteralType(simple=types_pb2.INTEGER)
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name=f"t_{uuid.uuid4().hex[:8]}"
        ),
        type="python-task",
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=integer)}),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=integer)}),
        ),
    )
    template.metadata.discoverable = True
    template.metadata.discovery_version = "1"
    template.metadata.cache_serializable = serializable
    return template


def _ints(**values: int) -> literals_pb2.LiteralMap:
    result = literals_pb2.LiteralMap()
    for name, value in values.items():
        result.literals[name].scalar.primitive.integer = value
    return result


@pytest.fixture
async def cache(datacatalog_endpoint: str) -> AsyncIterator[TaskCache]:
    client = DataCatalogClient(datacatalog_endpoint, CatalogCacheConfig())
    yield TaskCache(client, timedelta(seconds=5))
    await client.close()


async def test_miss_run_store_then_hit(cache: TaskCache) -> None:
    template = _template(serializable=False)
    assert is_cacheable(template) and not is_serializable(template)
    key = cache_key(template, _ints(x=2))
    misses, hits, puts = (
        _metric("discovery_miss_count"),
        _metric("discovery_hit_count"),
        _metric("discovery_put_success_count"),
    )

    first = await cache.before_start(key, "owner-1", overwrite=False, serializable=False)
    assert first.decision == Decision.RUN and first.metadata.cache_status == catalog_pb2.CACHE_MISS
    stored = await cache.after_success(key, _ints(o0=4), identifier_pb2.TaskExecutionIdentifier(), overwrite=False)
    assert stored.cache_status == catalog_pb2.CACHE_POPULATED
    assert stored.catalog_key.artifact_tag.name.startswith("flyte_cached-")

    second = await cache.before_start(key, "owner-2", overwrite=False, serializable=False)
    assert second.decision == Decision.HIT and second.outputs == _ints(o0=4)
    assert second.metadata.cache_status == catalog_pb2.CACHE_HIT
    assert (_metric("discovery_miss_count"), _metric("discovery_hit_count")) == (misses + 1, hits + 1)
    assert _metric("discovery_put_success_count") == puts + 1


async def test_overwrite_skips_the_lookup(cache: TaskCache) -> None:
    template = _template(serializable=False)
    key = cache_key(template, _ints(x=2))
    await cache.after_success(key, _ints(o0=4), identifier_pb2.TaskExecutionIdentifier(), overwrite=False)
    skips = _metric("discovery_skip_count")
    pre = await cache.before_start(key, "owner-1", overwrite=True, serializable=False)
    assert pre.decision == Decision.RUN and pre.metadata.cache_status == catalog_pb2.CACHE_SKIPPED
    assert _metric("discovery_skip_count") == skips + 1
    await cache.after_success(key, _ints(o0=5), identifier_pb2.TaskExecutionIdentifier(), overwrite=True)
    assert (await cache.before_start(key, "owner-2", overwrite=False, serializable=False)).outputs == _ints(o0=5)


async def test_serializable_second_owner_waits_until_the_first_stores(cache: TaskCache) -> None:
    template = _template(serializable=True)
    key = cache_key(template, _ints(x=3))
    first = await cache.before_start(key, "owner-1", overwrite=False, serializable=True)
    assert first.decision == Decision.RUN
    assert first.metadata.reservation_status == Reservation.RESERVATION_ACQUIRED

    waiting = await cache.before_start(key, "owner-2", overwrite=False, serializable=True)
    assert waiting.decision == Decision.WAIT
    assert waiting.metadata.reservation_status == Reservation.RESERVATION_EXISTS

    await cache.heartbeat(key, "owner-1")
    await cache.after_success(key, _ints(o0=9), identifier_pb2.TaskExecutionIdentifier(), overwrite=False)
    assert await cache.release(key, "owner-1") == Reservation.RESERVATION_RELEASED

    served = await cache.before_start(key, "owner-2", overwrite=False, serializable=True)
    assert served.decision == Decision.HIT and served.outputs == _ints(o0=9)


async def test_tasks_without_outputs_are_never_stored(cache: TaskCache) -> None:
    template = _template(serializable=False)
    template.interface.outputs.Clear()
    key = cache_key(template, _ints(x=1))
    stored = await cache.after_success(
        key, literals_pb2.LiteralMap(), identifier_pb2.TaskExecutionIdentifier(), overwrite=False
    )
    assert stored.cache_status == catalog_pb2.CACHE_DISABLED
    pre = await cache.before_start(key, "owner-1", overwrite=False, serializable=False)
    assert pre.decision == Decision.RUN and pre.metadata.cache_status == catalog_pb2.CACHE_MISS
