"""Binding resolution: scalars, collections, maps, promises, attr_path into maps/lists/dataclasses, unions."""

from __future__ import annotations

import msgpack
import pytest
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import struct_pb2

from aloft_propeller.nodes.attr_path import AttrPathError
from aloft_propeller.nodes.bindings import resolve_bindings
from aloft_propeller.nodes.errors import BindingResolutionError


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _str(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))


def _promise(node_id: str, var: str, *path: str | int) -> literals_pb2.BindingData:
    attrs = [
        types_pb2.PromiseAttribute(int_value=p) if isinstance(p, int) else types_pb2.PromiseAttribute(string_value=p)
        for p in path
    ]
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var, attr_path=attrs))


def _dataclass_binary() -> literals_pb2.Literal:
    packed = msgpack.packb({"x": 7, "tags": ["a", "b"], "inner": {"name": "n"}})
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=packed, tag="msgpack")))


def _struct() -> literals_pb2.Literal:
    struct = struct_pb2.Struct()
    struct.update({"x": 3, "inner": {"name": "s"}, "items": [1, 2]})
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))


UPSTREAM = {
    "n0": {
        "o0": _int(5),
        "o1": literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[_int(1), _int(2)])),
        "o2": literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"k": _str("v")})),
        "o3": _dataclass_binary(),
        "o4": _struct(),
    },
    "start-node": {"a": _str("input")},
}


async def _outputs(node_id: str) -> literals_pb2.LiteralMap:
    if node_id not in UPSTREAM:
        raise BindingResolutionError(node_id, "not run")
    return literals_pb2.LiteralMap(literals=UPSTREAM[node_id])


async def _resolve(**bindings: literals_pb2.BindingData) -> literals_pb2.LiteralMap:
    return await resolve_bindings("n9", [literals_pb2.Binding(var=k, binding=v) for k, v in bindings.items()], _outputs)


async def test_scalars_promises_collections_and_maps() -> None:
    collection = literals_pb2.BindingDataCollection(
        bindings=[literals_pb2.BindingData(scalar=_int(1).scalar), _promise("n0", "o0")]
    )
    mapping = literals_pb2.BindingDataMap(bindings={"a": _promise("start-node", "a"), "b": _promise("n0", "o0")})
    result = await _resolve(
        s=literals_pb2.BindingData(scalar=_int(3).scalar),
        p=_promise("n0", "o0"),
        c=literals_pb2.BindingData(collection=collection),
        m=literals_pb2.BindingData(map=mapping),
    )
    assert result.literals["s"] == _int(3) and result.literals["p"] == _int(5)
    assert list(result.literals["c"].collection.literals) == [_int(1), _int(5)]
    assert result.literals["m"].map.literals["a"] == _str("input")
    assert result.literals["m"].map.literals["b"] == _int(5)


async def test_attr_path_into_collections_maps_dataclasses_and_structs() -> None:
    result = await _resolve(
        idx=_promise("n0", "o1", 1),
        key=_promise("n0", "o2", "k"),
        dc_x=_promise("n0", "o3", "x"),
        dc_tag=_promise("n0", "o3", "tags", 0),
        dc_inner=_promise("n0", "o3", "inner"),
        st_x=_promise("n0", "o4", "x"),
        st_inner=_promise("n0", "o4", "inner"),
        st_items=_promise("n0", "o4", "items"),
    )
    assert result.literals["idx"] == _int(2) and result.literals["key"] == _str("v")
    assert msgpack.unpackb(result.literals["dc_x"].scalar.binary.value) == 7
    assert result.literals["dc_x"].scalar.binary.tag == "msgpack"
    assert msgpack.unpackb(result.literals["dc_tag"].scalar.binary.value) == "a"
    assert msgpack.unpackb(result.literals["dc_inner"].scalar.binary.value) == {"name": "n"}
    assert result.literals["st_x"].scalar.primitive.float_value == 3.0
    assert dict(result.literals["st_inner"].scalar.generic) == {"name": "s"}
    assert len(result.literals["st_items"].collection.literals) == 2


async def test_union_binding_wraps_value_with_target_type() -> None:
    target = types_pb2.LiteralType(simple=types_pb2.INTEGER, structure=types_pb2.TypeStructure(tag="int"))
    data = _promise("n0", "o0")
    data.union.targetType.CopyFrom(target)
    result = await _resolve(u=data)
    union = result.literals["u"].scalar.union
    assert union.value == _int(5) and union.type == target


async def test_errors_name_the_node_and_the_missing_piece() -> None:
    with pytest.raises(BindingResolutionError, match=r"output \[nope\] of upstream node \[n0\]"):
        await _resolve(x=_promise("n0", "nope"))
    with pytest.raises(AttrPathError, match=r"index \[5\] is out of range"):
        await _resolve(x=_promise("n0", "o1", 5))
    with pytest.raises(AttrPathError, match=r"key \[missing\] does not exist"):
        await _resolve(x=_promise("n0", "o3", "missing"))
    with pytest.raises(BindingResolutionError, match="not run"):
        await _resolve(x=_promise("n7", "o0"))
