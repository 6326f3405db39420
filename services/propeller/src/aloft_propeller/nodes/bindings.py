"""Binding resolution: turn a node's ``Binding``s into a ``LiteralMap`` from literals and upstream outputs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from flyteidl.core import literals_pb2

from aloft_propeller.nodes.attr_path import resolve_attr_path
from aloft_propeller.nodes.errors import BindingResolutionError

# node id (in the current scope; "start-node" means the scope's inputs) → that node's outputs.
OutputsLookup = Callable[[str], Awaitable[literals_pb2.LiteralMap]]


async def resolve_bindings(
    node_id: str, bindings: Sequence[literals_pb2.Binding], outputs_of: OutputsLookup
) -> literals_pb2.LiteralMap:
    result = literals_pb2.LiteralMap()
    for binding in bindings:
        result.literals[binding.var].CopyFrom(await resolve_binding_data(node_id, binding.binding, outputs_of))
    return result


async def resolve_binding_data(
    node_id: str, data: literals_pb2.BindingData, outputs_of: OutputsLookup
) -> literals_pb2.Literal:
    literal = await _resolve_value(node_id, data, outputs_of)
    if data.HasField("union"):
        # The target is a union type: wrap the value with the variant type the compiler chose.
        union = literals_pb2.Union(value=literal, type=data.union.targetType)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(union=union))
    return literal


async def _resolve_value(
    node_id: str, data: literals_pb2.BindingData, outputs_of: OutputsLookup
) -> literals_pb2.Literal:
    kind = data.WhichOneof("value")
    if kind == "scalar":
        return literals_pb2.Literal(scalar=data.scalar)
    if kind == "collection":
        items = [await resolve_binding_data(node_id, item, outputs_of) for item in data.collection.bindings]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if kind == "map":
        entries = literals_pb2.LiteralMap()
        for key, item in data.map.bindings.items():
            entries.literals[key].CopyFrom(await resolve_binding_data(node_id, item, outputs_of))
        return literals_pb2.Literal(map=entries)
    if kind == "promise":
        return await _resolve_promise(node_id, data, outputs_of)
    if kind == "offloaded_literal":
        return literals_pb2.Literal(offloaded_metadata=data.offloaded_literal)
    raise BindingResolutionError(node_id, f"binding has no value (kind {kind!r})")


async def _resolve_promise(
    node_id: str, data: literals_pb2.BindingData, outputs_of: OutputsLookup
) -> literals_pb2.Literal:
    promise = data.promise
    outputs = await outputs_of(promise.node_id)
    if promise.var not in outputs.literals:
        raise BindingResolutionError(node_id, f"output [{promise.var}] of upstream node [{promise.node_id}] not found")
    literal = outputs.literals[promise.var]
    if promise.attr_path:
        return resolve_attr_path(node_id, literal, promise.attr_path)
    return literal
