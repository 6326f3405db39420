"""The launch target of a new execution: the immutable parts of a launch plan version and of its workflow version.

Versions are immutable (the mutable ACTIVE/INACTIVE state is not part of a target), so found targets are kept in a
small LRU (``LaunchTargetCache``, built once per admin with ``LaunchTargets``); misses are never cached.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from flyteidl.admin import launch_plan_pb2
from flyteidl.core import identifier_pb2, interface_pb2

from aloft_admin.managers import registered_entities as registered
from aloft_admin.repositories.base import Repositories
from aloft_admin.transformers import entities as transform


@dataclass(frozen=True)
class LaunchTarget:
    """The immutable parts of a launch plan version and of its workflow version that an execution needs.

    Callers must not mutate the messages: they are shared through the cache.
    """

    launch_plan_id: identifier_pb2.Identifier
    spec: launch_plan_pb2.LaunchPlanSpec
    expected_inputs: interface_pb2.ParameterMap
    workflow_id: identifier_pb2.Identifier
    workflow_closure_uri: str


LAUNCH_TARGET_CACHE_SIZE = 1024


def _identifier_key(id: identifier_pb2.Identifier) -> tuple[str, ...]:
    return (id.org, id.project, id.domain, id.name, id.version)


class LaunchTargetCache:
    """Least recently used launch targets by launch plan identifier, at most ``size`` of them."""

    def __init__(self, size: int = LAUNCH_TARGET_CACHE_SIZE) -> None:
        self.size = size
        self._targets: OrderedDict[tuple[str, ...], LaunchTarget] = OrderedDict()

    def get(self, id: identifier_pb2.Identifier) -> LaunchTarget | None:
        key = _identifier_key(id)
        target = self._targets.get(key)
        if target is not None:
            self._targets.move_to_end(key)
        return target

    def put(self, id: identifier_pb2.Identifier, target: LaunchTarget) -> None:
        self._targets[_identifier_key(id)] = target
        if len(self._targets) > self.size:
            self._targets.popitem(last=False)


class LaunchTargets:
    """The launch target of a new execution, read through an LRU of found ones (misses are never cached)."""

    def __init__(self, cache: LaunchTargetCache) -> None:
        self._cache = cache

    def cached(self, id: identifier_pb2.Identifier) -> LaunchTarget | None:
        """The target when it is cached (no database), else None."""
        return self._cache.get(id)

    async def get(self, tx: Repositories, id: identifier_pb2.Identifier) -> LaunchTarget:
        """Launch plan + workflow for a new execution (NotFound naming the missing one)."""
        target = self._cache.get(id)
        if target is not None:
            return target
        lp = await registered.get_launch_plan(tx, id)
        workflow_row = await registered.get_workflow_row(tx, lp.spec.workflow_id)
        # Registration computes expected_inputs (every workflow input not fixed); older rows may only have defaults.
        expected = lp.closure.expected_inputs if lp.closure.expected_inputs.parameters else lp.spec.default_inputs
        target = LaunchTarget(
            launch_plan_id=lp.id,
            spec=lp.spec,
            expected_inputs=expected,
            workflow_id=transform.to_workflow(workflow_row).id,
            workflow_closure_uri=workflow_row.remote_closure_uri,
        )
        self._cache.put(id, target)
        return target
