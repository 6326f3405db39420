"""The launch plans a dynamic job calls: their interfaces come from admin (as flytepropeller's dynamic handler
fetches them) so the compiled workflow can type-check the launch-plan nodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import grpc
from flyteidl.admin import common_pb2
from flyteidl.core import dynamic_job_pb2, identifier_pb2, workflow_pb2

from aloft_compiler import LaunchPlanInterface
from aloft_propeller.admin_channel import LazyAdminStub

_CALL_TIMEOUT = 10.0


class LaunchPlanUnavailable(Exception):
    """Admin could not answer now (transient): compile again next round."""


class LaunchPlanNotFound(Exception):
    """A launch plan the dynamic job calls does not exist (the user's error)."""


class LaunchPlanSource(Protocol):
    async def fetch(self, ids: Sequence[identifier_pb2.Identifier]) -> list[LaunchPlanInterface]: ...


def _nodes(nodes: Iterable[workflow_pb2.Node]) -> Iterable[workflow_pb2.Node]:
    for node in nodes:
        yield node
        if node.HasField("branch_node"):
            block = node.branch_node.if_else
            children = [block.case.then_node, *(case.then_node for case in block.other)]
            if block.HasField("else_node"):
                children.append(block.else_node)
            yield from _nodes(children)
        if node.HasField("array_node"):
            yield from _nodes([node.array_node.node])


def referenced_launch_plans(job: dynamic_job_pb2.DynamicJobSpec) -> list[identifier_pb2.Identifier]:
    found: dict[bytes, identifier_pb2.Identifier] = {}
    all_nodes = [*job.nodes, *(node for sub in job.subworkflows for node in sub.nodes)]
    for node in _nodes(all_nodes):
        if node.HasField("workflow_node") and node.workflow_node.HasField("launchplan_ref"):
            ref = node.workflow_node.launchplan_ref
            found[ref.SerializeToString(deterministic=True)] = ref
    return list(found.values())


class AdminLaunchPlans:
    """GetLaunchPlan over gRPC to admin (``propeller.adminEndpoint``); the channel opens on first use."""

    def __init__(self, endpoint: str, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> None:
        self._admin = LazyAdminStub(endpoint, interceptors)

    async def close(self) -> None:
        await self._admin.close()

    async def fetch(self, ids: Sequence[identifier_pb2.Identifier]) -> list[LaunchPlanInterface]:
        result = []
        for lp_id in ids:
            try:
                launch_plan = await self._admin().GetLaunchPlan(
                    common_pb2.ObjectGetRequest(id=lp_id), timeout=_CALL_TIMEOUT
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    raise LaunchPlanNotFound(f"launch plan {lp_id.name}:{lp_id.version}: {exc.details()}") from exc
                raise LaunchPlanUnavailable(f"admin: {exc.code().name} {exc.details()}") from exc
            result.append(LaunchPlanInterface.from_launch_plan(launch_plan))
        return result
