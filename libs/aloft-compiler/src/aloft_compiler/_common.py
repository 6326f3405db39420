"""Shared constants and small helpers of the workflow compiler."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from flyteidl.core import identifier_pb2, interface_pb2

START_NODE_ID = "start-node"
END_NODE_ID = "end-node"


class EdgeDirection(enum.Enum):
    """Which adjacency lists a binding's upstream node is recorded in (Flyte's EdgeDirection)."""

    BIDIRECTIONAL = "bidirectional"
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


def id_key(identifier: Any) -> str:
    """Stable lookup key for an Identifier (Flyte keys its indexes by the identifier's full text)."""
    rt = identifier_pb2.ResourceType.Name(identifier.resource_type)
    return f"{rt}:{identifier.org}/{identifier.project}/{identifier.domain}/{identifier.name}@{identifier.version}"


def id_str(identifier: Any) -> str:
    rt = identifier_pb2.ResourceType.Name(identifier.resource_type)
    org = f"{identifier.org}:" if identifier.org else ""
    return f"{rt}:{org}{identifier.project}:{identifier.domain}:{identifier.name}:{identifier.version}"


def empty_interface() -> Any:
    return interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={}), outputs=interface_pb2.VariableMap(variables={})
    )


@dataclass(eq=False)
class NodeEntry:
    """A node under compilation: the proto inside the compiled template plus what was learnt about it."""

    node: Any
    interface: Any | None = None
    resolved: bool = False
    branch_children: list[NodeEntry] | None = None
    array_child: NodeEntry | None = None

    @property
    def id(self) -> str:
        return str(self.node.id)
