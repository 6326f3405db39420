"""Node-level error codes (flytepropeller nodes/errors/codes.go names) raised while evaluating a node."""

from __future__ import annotations


class NodeError(Exception):
    """A permanent, user-visible failure of one node (bad binding, failed condition ...)."""

    code = "NodeExecutionError"

    def __init__(self, node_id: str, message: str) -> None:
        super().__init__(f"[{node_id}] {message}")
        self.node_id = node_id
        self.message = message


class BindingResolutionError(NodeError):
    code = "BindingResolutionError"


class BranchEvalError(NodeError):
    code = "IllegalStateError"


class UnsupportedNodeError(NodeError):
    """A node kind no handler is registered for (launch-plan and gate nodes without propeller.adminEndpoint)."""

    code = "UnsupportedNodeKind"
