"""Node handlers by node kind: task (with dynamic), array, branch, subworkflow; launchplan and gate when admin is
configured. The registry also owns the clients its handlers use: ``setup()`` at start-up, ``close()`` at stop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from flyteidl.core import workflow_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.nodes.base import NodeHandler
from aloft_propeller.nodes.errors import UnsupportedNodeError


def node_kind(node: workflow_pb2.Node) -> str:
    """``task`` | ``branch`` | ``subworkflow`` | ``launchplan`` | ``gate`` | ``array``."""
    target = node.WhichOneof("target")
    if target == "task_node":
        return "task"
    if target == "branch_node":
        return "branch"
    if target == "workflow_node":
        return "subworkflow" if node.workflow_node.HasField("sub_workflow_ref") else "launchplan"
    if target == "gate_node":
        return "gate"
    if target == "array_node":
        return "array"
    return ""


class NodeHandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, NodeHandler] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def register(self, kind: str, handler: NodeHandler) -> None:
        self._handlers[kind] = handler

    def for_node(self, node: workflow_pb2.Node) -> NodeHandler:
        kind = node_kind(node)
        handler = self._handlers.get(kind)
        if handler is None:
            raise UnsupportedNodeError(node.id, f"node kind {kind or 'unknown'!r} is not supported by this data plane")
        return handler

    def closes(self, close: Callable[[], Awaitable[None]]) -> None:
        """Call ``close`` (a client the handlers share) when the registry is closed."""
        self._closers.append(close)

    async def setup(self) -> None:
        for handler in self._handlers.values():
            await handler.setup()

    async def close(self) -> None:
        closers, self._closers = self._closers, []
        for close in closers:
            await close()


def default_node_handlers(admin_endpoint: str = "", config: PropellerConfig | None = None) -> NodeHandlerRegistry:
    """``admin_endpoint`` (propeller.adminEndpoint): where launch-plan nodes start children, gates read signals.
    ``config``: the task handler builds its datacatalog client from it at setup()."""
    from aloft_auth.client import outgoing_interceptors

    from aloft_propeller.nodes.array.handler import ArrayNodeHandler
    from aloft_propeller.nodes.branch.handler import BranchNodeHandler
    from aloft_propeller.nodes.dynamic.handler import DynamicNodeHandler
    from aloft_propeller.nodes.dynamic.launchplans import AdminLaunchPlans
    from aloft_propeller.nodes.gate.handler import GateNodeHandler
    from aloft_propeller.nodes.gate.signals import AdminSignalClient
    from aloft_propeller.nodes.launchplan.admin import AdminLauncher
    from aloft_propeller.nodes.launchplan.handler import LaunchPlanNodeHandler
    from aloft_propeller.nodes.subworkflow.handler import SubworkflowNodeHandler
    from aloft_propeller.nodes.task.handler import TaskNodeHandler

    registry = NodeHandlerRegistry()
    task_handler = TaskNodeHandler(config=config)
    registry.closes(task_handler.close)
    outgoing = outgoing_interceptors(config.auth) if config is not None else []
    launch_plans = AdminLaunchPlans(admin_endpoint, outgoing) if admin_endpoint else None
    registry.register("task", DynamicNodeHandler(task_handler, launch_plans))
    registry.register("array", ArrayNodeHandler(task_handler))
    registry.register("branch", BranchNodeHandler())
    registry.register("subworkflow", SubworkflowNodeHandler())
    if launch_plans is not None:
        launcher, signals = AdminLauncher(admin_endpoint, outgoing), AdminSignalClient(admin_endpoint, outgoing)
        registry.register("launchplan", LaunchPlanNodeHandler(launcher))
        registry.register("gate", GateNodeHandler(signals))
        for client in (launch_plans, launcher, signals):
            registry.closes(client.close)
    return registry
