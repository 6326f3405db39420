"""Task-execution metadata across events (flyteadmin transformers/task_execution.go mergeMetadata).

An array node reports its sub-tasks as ExternalResourceInfo entries keyed by (index, retry_attempt). Flyte's
propeller may report only the newest attempt of an index in a later event, so entries are merged, never replaced:
every sub-task attempt (RETRYABLE_FAILED ones included) stays in the closure with its phase, logs and custom_info.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flyteidl.admin import task_execution_pb2
from flyteidl.core import catalog_pb2 as core_catalog_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.event import event_pb2


def merge_task_logs(existing: Any, latest: Iterable[core_execution_pb2.TaskLog]) -> None:
    """Logs accumulate across events; a log with a known URI (or name, when it has no URI) is replaced in place."""
    positions = {(log.uri or log.name): index for index, log in enumerate(existing)}
    for log in latest:
        key = log.uri or log.name
        if key in positions:
            existing[positions[key]].CopyFrom(log)
        else:
            positions[key] = len(existing)
            existing.append(log)


def merge_metadata(closure: task_execution_pb2.TaskExecutionClosure, event: event_pb2.TaskExecutionEvent) -> None:
    """flyteadmin's mergeMetadata: scalar fields replaced when set, external resources merged by (index,
    retry_attempt) so every sub-task attempt an array reports stays in the closure, each with its own phase, logs
    and custom_info (where the attempt's error is), even when a later event reports only the newest attempt."""
    if not closure.HasField("metadata"):
        closure.metadata.CopyFrom(event.metadata)
        return
    existing, latest = closure.metadata, event.metadata
    if latest.generated_name:
        existing.generated_name = latest.generated_name
    if latest.plugin_identifier:
        existing.plugin_identifier = latest.plugin_identifier
    if latest.instance_class:
        existing.instance_class = latest.instance_class
    del existing.resource_pool_info[:]
    existing.resource_pool_info.extend(latest.resource_pool_info)
    merged = {(r.index, r.retry_attempt): _copy(r) for r in existing.external_resources}
    for resource in latest.external_resources:
        key = (resource.index, resource.retry_attempt)
        if key in merged:
            merged[key] = _merge_external_resource(merged[key], resource)
        else:
            merged[key] = _copy(resource)
    ordered = [merged[key] for key in sorted(merged)]
    del existing.external_resources[:]
    existing.external_resources.extend(ordered)


def _merge_external_resource(
    existing: event_pb2.ExternalResourceInfo, latest: event_pb2.ExternalResourceInfo
) -> event_pb2.ExternalResourceInfo:
    merged = existing
    if latest.external_id:
        merged.external_id = latest.external_id
    merged.phase = latest.phase
    if latest.cache_status != core_catalog_pb2.CACHE_DISABLED:
        merged.cache_status = latest.cache_status
    merge_task_logs(merged.logs, latest.logs)
    if latest.HasField("custom_info"):
        merged.custom_info.CopyFrom(latest.custom_info)
    return merged


def _copy(resource: event_pb2.ExternalResourceInfo) -> event_pb2.ExternalResourceInfo:
    detached = event_pb2.ExternalResourceInfo()
    detached.CopyFrom(resource)
    return detached
