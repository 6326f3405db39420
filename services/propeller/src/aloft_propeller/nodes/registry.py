"""Node handlers by node kind. Open for more kinds (array, dynamic, launchplan, gate): register them here."""

from __future__ import annotations

from flyteidl.core import workflow_pb2

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

    def register(self, kind: str, handler: NodeHandler) -> None:
        self._handlers[kind] = handler

    def for_node(self, node: workflow_pb2.Node) -> NodeHandler:
        kind = node_kind(node)
        handler = self._handlers.get(kind)
        if handler is None:
            raise UnsupportedNodeError(node.id, f"node kind {kind or 'unknown'!r} is not supported by this data plane")
        return handler

    async def setup(self) -> None:
        for handler in self._handlers.values():
            await handler.setup()


def default_node_handlers(admin_endpoint: str = "") -> NodeHandlerRegistry:
    """``admin_endpoint`` (propeller.adminEndpoint): where launch-plan nodes start children, gates read signals."""
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
    task_handler = TaskNodeHandler()
    launch_plans = AdminLaunchPlans(admin_endpoint) if admin_endpoint else None
    registry.register("task", DynamicNodeHandler(task_handler, launch_plans))
    registry.register("array", ArrayNodeHandler(task_handler))
    registry.register("branch", BranchNodeHandler())
    registry.register("subworkflow", SubworkflowNodeHandler())
    if admin_endpoint:
        registry.register("launchplan", LaunchPlanNodeHandler(AdminLauncher(admin_endpoint)))
        registry.register("gate", GateNodeHandler(AdminSignalClient(admin_endpoint)))
    return registry
