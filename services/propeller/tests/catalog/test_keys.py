"""Cache keys: dataset ids, tags and artifact data, checked against their definitions and Flyte's own vectors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, types_pb2
from flyteidl.datacatalog import datacatalog_pb2

from aloft_propeller.catalog import keys
from aloft_propeller.catalog.objecthash import compute_hash, hash_json_value

TASK_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name="wf.square", version="v7"
)


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _ints(**values: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={name: _int(value) for name, value in values.items()})


def _int_vars(*names: str) -> interface_pb2.VariableMap:
    integer = types_pb2.LiteralType(simple=types_pb2.INTEGER)
    return interface_pb2.VariableMap(variables={name: interface_pb2.Variable(type=integer) for name in names})


def _key(inputs: literals_pb2.LiteralMap, ignore: tuple[str, ...] = (), version: str = "1.0") -> keys.CatalogKey:
    interface = interface_pb2.TypedInterface(inputs=_int_vars("a", "b"), outputs=_int_vars("o0"))
    return keys.CatalogKey(TASK_ID, version, interface, inputs, ignore)


def _sha(tag: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(tag + payload).digest()


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_objecthash_follows_the_definition_for_each_json_kind() -> None:
    assert hash_json_value("x") == _sha(b"u", b"x")
    assert hash_json_value(True) == _sha(b"b", b"1")
    assert hash_json_value(None) == _sha(b"n", b"")
    # Every JSON number is a float64 in objecthash: 1.5 = 0.75 * 2^1, mantissa bits "011" in (0.5, 1].
    assert hash_json_value(1.5) == _sha(b"f", b"+1:011")
    assert hash_json_value(0) == _sha(b"f", b"+0:")
    assert hash_json_value(["x", True]) == _sha(b"l", _sha(b"u", b"x") + _sha(b"b", b"1"))
    pairs = sorted([_sha(b"u", b"k") + _sha(b"u", b"v"), _sha(b"u", b"a") + _sha(b"u", b"b")])
    assert hash_json_value({"k": "v", "a": "b"}) == _sha(b"d", b"".join(pairs))


def test_empty_and_unset_interfaces_hash_like_an_empty_json_object() -> None:
    empty = _b64(_sha(b"d", b""))[:8]
    unset = interface_pb2.TypedInterface()
    empty_maps = interface_pb2.TypedInterface(inputs=interface_pb2.VariableMap(), outputs=interface_pb2.VariableMap())
    assert keys.dataset_version(unset, "1.0.0") == f"1.0.0-{empty}-{empty}"
    assert keys.dataset_version(empty_maps, "1.0.0") == f"1.0.0-{empty}-{empty}"


def test_matches_flytes_published_vectors() -> None:
    """Interoperability: the values flytepropeller's transformer_test.go (v1.16.8) asserts for the same inputs."""
    assert keys.dataset_version(interface_pb2.TypedInterface(), "1.0.0") == "1.0.0-GKw-c0Pw-GKw-c0Pw"
    assert keys.dataset_version(interface_pb2.TypedInterface(inputs=_int_vars("1", "2")), "1.0.0") == (
        "1.0.0-UxVtPm0k-GKw-c0Pw"
    )
    tag = keys.tag_name(_key(literals_pb2.LiteralMap(literals={"1": _int(1), "2": _int(2)})))
    assert tag == "flyte_cached-GQid5LjHbakcW68DS3P2jp80QLbiF0olFHF2hTh5bg8"


def test_dataset_id_is_the_task_namespace_at_cache_version_and_signature() -> None:
    key = _key(_ints(a=1, b=2), version=" 3 ")
    dataset = keys.dataset_id(key)
    signature = keys.task_signature_hash(key.interface)
    assert (dataset.project, dataset.domain, dataset.name) == ("flytesnacks", "development", "flyte_task-wf.square")
    assert dataset.version == f"3-{signature}"


def test_empty_cache_version_is_rejected() -> None:
    with pytest.raises(keys.InvalidCacheKey, match="cache version"):
        keys.dataset_id(_key(_ints(a=1), version="  "))


def test_tag_depends_on_input_values_not_on_insertion_order() -> None:
    forward = literals_pb2.LiteralMap()
    forward.literals["a"].CopyFrom(_int(1))
    forward.literals["b"].CopyFrom(_int(2))
    backward = literals_pb2.LiteralMap()
    backward.literals["b"].CopyFrom(_int(2))
    backward.literals["a"].CopyFrom(_int(1))
    assert keys.tag_name(_key(forward)) == keys.tag_name(_key(backward))
    assert keys.tag_name(_key(forward)) != keys.tag_name(_key(_ints(a=1, b=3)))
    expected = _b64(compute_hash(_ints(a=1, b=2)))
    assert keys.tag_name(_key(forward)) == f"flyte_cached-{expected}"


def test_cache_ignore_input_vars_leave_the_tag_unchanged() -> None:
    assert keys.tag_name(_key(_ints(a=1, b=2), ignore=("b",))) == keys.tag_name(_key(_ints(a=1, b=99), ignore=("b",)))
    assert keys.tag_name(_key(_ints(a=1, b=2), ignore=("b",))) == keys.tag_name(_key(_ints(a=1)))


def test_a_literal_with_its_own_hash_counts_only_by_that_hash() -> None:
    def hashed(value: int, digest: str) -> literals_pb2.LiteralMap:
        literal = _int(value)
        literal.hash = digest
        return literals_pb2.LiteralMap(literals={"a": literal})

    assert keys.tag_name(_key(hashed(1, "h1"))) == keys.tag_name(_key(hashed(2, "h1")))
    assert keys.tag_name(_key(hashed(1, "h1"))) != keys.tag_name(_key(hashed(1, "h2")))
    nested = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[hashed(5, "h1").literals["a"]]))
    other = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[hashed(6, "h1").literals["a"]]))
    first = keys.tag_name(_key(literals_pb2.LiteralMap(literals={"c": nested})))
    assert first == keys.tag_name(_key(literals_pb2.LiteralMap(literals={"c": other})))


def test_outputs_round_trip_through_artifact_data() -> None:
    key = _key(_ints(a=1, b=2))
    outputs = _ints(o0=4)
    artifact = datacatalog_pb2.Artifact(id="art", data=keys.artifact_data(outputs))
    assert keys.outputs_from_artifact(key, artifact) == outputs


def test_artifact_that_does_not_fit_the_interface_is_rejected() -> None:
    key = _key(_ints(a=1, b=2))
    with pytest.raises(keys.InvalidCacheKey, match="'other' is not an output"):
        keys.outputs_from_artifact(key, datacatalog_pb2.Artifact(id="x", data=keys.artifact_data(_ints(other=4))))
    with pytest.raises(keys.InvalidCacheKey, match="holds 2 outputs"):
        keys.outputs_from_artifact(key, datacatalog_pb2.Artifact(id="x", data=keys.artifact_data(_ints(o0=1, o1=2))))


def test_source_execution_round_trips_through_catalog_metadata() -> None:
    source = identifier_pb2.TaskExecutionIdentifier(
        task_id=TASK_ID,
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id="n0",
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="exec1"),
        ),
        retry_attempt=2,
    )
    restored = keys.source_from_metadata(keys.dataset_metadata(source), keys.artifact_metadata(source), TASK_ID)
    assert restored == source
    unknown = keys.source_from_metadata(datacatalog_pb2.Metadata(), datacatalog_pb2.Metadata(), TASK_ID)
    assert unknown.task_id.version == "unknown"
    assert unknown.node_execution_id.execution_id.project == TASK_ID.project


def test_event_catalog_metadata_names_the_dataset_and_tag() -> None:
    dataset = keys.dataset_id(_key(_ints(a=1)))
    tag = datacatalog_pb2.Tag(name="flyte_cached-x", artifact_id="art-1", dataset=dataset)
    metadata = keys.event_catalog_metadata(dataset, tag)
    assert metadata.dataset_id.resource_type == identifier_pb2.DATASET
    assert metadata.dataset_id.version == dataset.version
    assert (metadata.artifact_tag.name, metadata.artifact_tag.artifact_id) == ("flyte_cached-x", "art-1")
