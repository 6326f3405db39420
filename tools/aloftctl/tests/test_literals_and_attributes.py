"""execFile values ↔ literals, and attrFile parsing with errors that name the field."""

from __future__ import annotations

import pytest
from flyteidl.core import types_pb2

from aloftctl.attributes import KINDS, split_scope
from aloftctl.client import CommandError
from aloftctl.literals import InputError, to_literal_map, to_python

SIMPLE = types_pb2.SimpleType


def _simple(kind: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=kind)


def test_inputs_round_trip_through_literals() -> None:
    types = {
        "n": _simple(SIMPLE.INTEGER),
        "x": _simple(SIMPLE.FLOAT),
        "s": _simple(SIMPLE.STRING),
        "b": _simple(SIMPLE.BOOLEAN),
        "xs": types_pb2.LiteralType(collection_type=_simple(SIMPLE.INTEGER)),
        "m": types_pb2.LiteralType(map_value_type=_simple(SIMPLE.STRING)),
        "opt": types_pb2.LiteralType(
            union_type=types_pb2.UnionType(variants=[_simple(SIMPLE.INTEGER), _simple(SIMPLE.NONE)])
        ),
    }
    values = {"n": 3, "x": 1.5, "s": "hi", "b": True, "xs": [1, 2], "m": {"k": "v"}, "opt": 7}
    literals = to_literal_map(types, values, required=set(types))
    assert {name: to_python(literal) for name, literal in literals.literals.items()} == values


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"n": "three"}, "input n"),
        ({"n": 1, "extra": 2}, "unknown input"),
        ({}, "missing required input"),
        ({"n": 1.5}, "input n"),
    ],
)
def test_bad_inputs_name_the_input(values: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        to_literal_map({"n": _simple(SIMPLE.INTEGER)}, values, required={"n"})


def test_task_resource_attr_file_parses_flytectls_format() -> None:
    document = {
        "project": "ml-team",
        "domain": "production",
        "defaults": {"cpu": "2", "memory": "4Gi", "gpu": "0"},
        "limits": {"cpu": "16", "memory": "64Gi", "gpu": "8"},
    }
    scope, body = split_scope(document, "", "", "", "f.yaml")
    message = KINDS["task-resource-attribute"].parse(body, "f.yaml")
    assert (scope.project, scope.domain, scope.workflow) == ("ml-team", "production", "")
    assert (message.defaults.cpu, message.limits.gpu) == ("2", "8")


def test_flags_fill_in_a_file_without_project() -> None:
    scope, _ = split_scope({"value": "gpu"}, "p", "d", "", "f.yaml")
    assert (scope.project, scope.domain) == ("p", "d")
    with pytest.raises(CommandError, match="missing project"):
        split_scope({"value": "gpu"}, "", "", "", "f.yaml")


@pytest.mark.parametrize(
    ("noun", "body", "message"),
    [
        ("task-resource-attribute", {"defualts": {"cpu": "1"}}, "defualts"),
        ("task-resource-attribute", {}, "defaults, limits"),
        ("execution-cluster-label", {}, "value"),
        ("execution-queue-attribute", {"tags": "not-a-list"}, "tags"),
        ("plugin-override", {"overrides": [{"plugin_id": ["x"]}]}, "task_type"),
        ("cluster-assignment", {}, "cluster_pool_name"),
        ("workflow-execution-config", {"max_parallelism": "many"}, "max_parallelism"),
    ],
)
def test_wrong_or_missing_fields_are_named(noun: str, body: dict, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        KINDS[noun].parse(body, "attrs.yaml")
