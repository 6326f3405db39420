"""Splitting an array node's inputs into per-element inputs (flytepropeller array/utils.go constructLiteralMap)."""

from __future__ import annotations

from flyteidl.core import literals_pb2, workflow_pb2

from aloft_propeller.nodes.errors import NodeError


class ArrayInputError(NodeError):
    code = "InvalidArrayInputs"


def mapped_names(array: workflow_pb2.ArrayNode, inputs: literals_pb2.LiteralMap) -> list[str]:
    """The inputs mapped element-wise: collections that are not bound (broadcast) inputs."""
    bound = set(array.bound_inputs)
    return sorted(
        name for name, literal in inputs.literals.items() if literal.HasField("collection") and name not in bound
    )


def array_size(node_id: str, array: workflow_pb2.ArrayNode, inputs: literals_pb2.LiteralMap) -> int:
    names = mapped_names(array, inputs)
    sizes = {name: len(inputs.literals[name].collection.literals) for name in names}
    if not sizes:
        raise ArrayInputError(node_id, "array node has no collection input to map over")
    if len(set(sizes.values())) > 1:
        raise ArrayInputError(node_id, f"array node inputs have different lengths: {sizes}")
    return next(iter(sizes.values()))


def element_inputs(
    array: workflow_pb2.ArrayNode, inputs: literals_pb2.LiteralMap, index: int
) -> literals_pb2.LiteralMap:
    mapped = set(mapped_names(array, inputs))
    element = literals_pb2.LiteralMap()
    for name, literal in inputs.literals.items():
        element.literals[name].CopyFrom(literal.collection.literals[index] if name in mapped else literal)
    return element


def none_literal() -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))


def gather_outputs(names: list[str], per_element: list[literals_pb2.LiteralMap | None]) -> literals_pb2.LiteralMap:
    """One collection per output, in element order; a failed element (allowed by min success) is a None."""
    gathered = literals_pb2.LiteralMap()
    for name in names:
        collection = gathered.literals[name].collection
        collection.SetInParent()  # an empty map still has an (empty) collection
        for outputs in per_element:
            if outputs is not None and name in outputs.literals:
                collection.literals.add().CopyFrom(outputs.literals[name])
            else:
                collection.literals.add().CopyFrom(none_literal())
    return gathered
