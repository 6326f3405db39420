"""The cache steps around one task attempt (Flyte's nodes/cache.go + task handler), reusable by array sub-tasks.

Order: ``before_start`` (lookup unless overwrite_cache; hit → the stored outputs, no plugin; cache_serializable →
take the reservation, or wait while another owner holds it) → plugin runs, ``heartbeat`` each round keeps the
reservation → ``after_success`` stores the outputs (put, or update for overwrite_cache) → ``release``.
Nothing here fails a task: catalog trouble becomes CACHE_LOOKUP_FAILURE / CACHE_PUT_FAILURE / RESERVATION_FAILURE
in the node event, and the task simply runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from flyteidl.core import catalog_pb2, identifier_pb2, literals_pb2, tasks_pb2
from flyteidl.event import event_pb2

from aloft_propeller.catalog import keys, metrics
from aloft_propeller.catalog.client import CatalogClient, ReservationResult

Reservation = catalog_pb2.CatalogReservation


class Decision(enum.Enum):
    HIT = "HIT"  # use ``outputs``, don't run
    RUN = "RUN"  # start the plugin
    WAIT = "WAIT"  # another owner is computing this result: re-check next round


@dataclass(frozen=True)
class PreRun:
    decision: Decision
    metadata: event_pb2.TaskNodeMetadata
    outputs: literals_pb2.LiteralMap | None = None


def is_cacheable(template: tasks_pb2.TaskTemplate) -> bool:
    return template.metadata.discoverable


def is_serializable(template: tasks_pb2.TaskTemplate) -> bool:
    return template.metadata.discoverable and template.metadata.cache_serializable


def cache_key(template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap) -> keys.CatalogKey:
    return keys.key_for_task(template.id, template.metadata, template.interface, inputs)


def node_metadata(
    cache_status: int,
    catalog_key: catalog_pb2.CatalogMetadata | None = None,
    reservation_status: int = Reservation.RESERVATION_DISABLED,
) -> event_pb2.TaskNodeMetadata:
    """What node events report in ``task_node_metadata`` (admin shows it as the node's cache status)."""
    metadata = event_pb2.TaskNodeMetadata(cache_status=cache_status, reservation_status=reservation_status)  # type: ignore[arg-type]
    if catalog_key is not None:
        metadata.catalog_key.CopyFrom(catalog_key)
    return metadata


class TaskCache:
    """The catalog steps of one cacheable task attempt; ``owner`` is the attempt's deterministic unique id."""

    def __init__(self, client: CatalogClient, heartbeat: timedelta) -> None:
        self.client = client
        self._heartbeat = heartbeat

    async def before_start(self, key: keys.CatalogKey, owner: str, *, overwrite: bool, serializable: bool) -> PreRun:
        labels = _labels(key)
        lookup_status: int = catalog_pb2.CACHE_SKIPPED
        if overwrite:
            metrics.skip.labels(*labels).inc()
        else:
            lookup = await self.client.get(key)
            _count_lookup(labels, lookup.status)
            if lookup.hit and lookup.outputs is not None:
                return PreRun(Decision.HIT, node_metadata(catalog_pb2.CACHE_HIT, lookup.catalog_key), lookup.outputs)
            lookup_status = lookup.status
        if not serializable:
            return PreRun(Decision.RUN, node_metadata(lookup_status))
        reservation = await self._reserve(key, owner)
        metadata = node_metadata(lookup_status, reservation_status=reservation.status)
        if reservation.status == Reservation.RESERVATION_EXISTS:
            return PreRun(Decision.WAIT, metadata)
        # Acquired, or the reservation service failed: run (a catalog problem never blocks or fails a task).
        return PreRun(Decision.RUN, metadata)

    async def heartbeat(self, key: keys.CatalogKey, owner: str) -> None:
        await self._reserve(key, owner)

    async def _reserve(self, key: keys.CatalogKey, owner: str) -> ReservationResult:
        reservation = await self.client.get_or_extend_reservation(key, owner, self._heartbeat)
        failed = reservation.status == Reservation.RESERVATION_FAILURE
        counter = metrics.reservation_get_failure if failed else metrics.reservation_get_success
        counter.labels(*_labels(key)).inc()
        return reservation

    async def after_success(
        self,
        key: keys.CatalogKey,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
        *,
        overwrite: bool,
    ) -> event_pb2.TaskNodeMetadata:
        if not key.interface.outputs.variables:
            # Nothing to reuse: like Flyte, tasks without outputs are looked up but never stored.
            return node_metadata(catalog_pb2.CACHE_DISABLED)
        store = self.client.update if overwrite else self.client.put
        result = await store(key, outputs, source)
        stored = result.status == catalog_pb2.CACHE_POPULATED
        (metrics.put_success if stored else metrics.put_failure).labels(*_labels(key)).inc()
        return node_metadata(result.status, result.catalog_key)

    async def release(self, key: keys.CatalogKey, owner: str) -> int:
        status = (await self.client.release_reservation(key, owner)).status
        released = status == Reservation.RESERVATION_RELEASED
        counter = metrics.reservation_release_success if released else metrics.reservation_release_failure
        counter.labels(*_labels(key)).inc()
        return status


def _labels(key: keys.CatalogKey) -> tuple[str, str]:
    return (key.task_id.project, key.task_id.domain)


def _count_lookup(labels: tuple[str, str], status: int) -> None:
    if status == catalog_pb2.CACHE_HIT:
        metrics.hit.labels(*labels).inc()
    elif status == catalog_pb2.CACHE_MISS:
        metrics.miss.labels(*labels).inc()
    elif status == catalog_pb2.CACHE_LOOKUP_FAILURE:
        metrics.get_failure.labels(*labels).inc()
