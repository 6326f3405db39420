"""Pure pieces of the executions area, tested on their own: input merging, names, log/reason merging, the
generated single-task workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flyteidl.admin import task_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.event import event_pb2

from aloft_admin.managers.events_task import append_reasons
from aloft_admin.managers.executions_names import execution_name, generate_name
from aloft_admin.managers.executions_single_task import DEFAULT_RETRIES, generated_node_id, wrapper_workflow
from aloft_admin.managers.task_metadata import merge_task_logs
from aloft_admin.validation.execution_inputs import merge_inputs
from aloft_service.errors import InvalidArgument

INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)


def lit(value: Any) -> literals_pb2.Literal:
    primitive = (
        literals_pb2.Primitive(integer=value) if isinstance(value, int) else literals_pb2.Primitive(string_value=value)
    )
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


EXPECTED = interface_pb2.ParameterMap(
    parameters={
        "a": interface_pb2.Parameter(var=interface_pb2.Variable(type=INT), required=True),
        "b": interface_pb2.Parameter(var=interface_pb2.Variable(type=STR), default=lit("dflt")),
    }
)
FIXED = literals_pb2.LiteralMap(literals={"c": lit(5)})


def test_merge_inputs_fills_defaults_and_fixed() -> None:
    merged = merge_inputs(EXPECTED, FIXED, literals_pb2.LiteralMap(literals={"a": lit(1)}))
    assert {k: v.scalar.primitive.WhichOneof("value") for k, v in merged.literals.items()} == {
        "a": "integer",
        "b": "string_value",
        "c": "integer",
    }
    assert merged.literals["b"].scalar.primitive.string_value == "dflt"


@pytest.mark.parametrize(
    ("inputs", "named"),
    [({}, "a"), ({"a": lit("x")}, "a"), ({"a": lit(1), "zz": lit(1)}, "zz"), ({"a": lit(1), "c": lit(2)}, "c")],
)
def test_merge_inputs_errors_name_the_input(inputs: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        merge_inputs(EXPECTED, FIXED, literals_pb2.LiteralMap(literals=inputs))
    assert named in caught.value.message


def test_execution_names() -> None:
    generated = generate_name()
    assert generated[0] == "a" and len(generated) == 20 and generated.isalnum() and generated.islower()
    assert generate_name() != generated
    assert execution_name("my-run-1", 63) == "my-run-1"
    for bad in ("-x", "UPPER", "a_b", "x" * 64, "ends-"):
        with pytest.raises(InvalidArgument):
            execution_name(bad, 63)


def test_logs_merge_by_uri_and_reasons_accumulate() -> None:
    closure = task_execution_pb2.TaskExecutionClosure()
    merge_task_logs(closure.logs, [core.TaskLog(name="a", uri="u1")])
    merge_task_logs(closure.logs, [core.TaskLog(name="a (renamed)", uri="u1"), core.TaskLog(name="b", uri="u2")])
    assert [(log.name, log.uri) for log in closure.logs] == [("a (renamed)", "u1"), ("b", "u2")]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    append_reasons(closure, event_pb2.TaskExecutionEvent(reason="queued"), now)
    append_reasons(
        closure,
        event_pb2.TaskExecutionEvent(
            reasons=[event_pb2.EventReason(reason="pulling"), event_pb2.EventReason(reason="started")]
        ),
        now,
    )
    assert [r.message for r in closure.reasons] == ["queued", "pulling", "started"]
    assert closure.reason == "started"


def test_single_task_wrapper_workflow() -> None:
    task_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="p", domain="d", name="my_module.train", version="v7"
    )
    template = tasks_pb2.TaskTemplate(
        id=task_id,
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)}),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
        ),
    )
    workflow = wrapper_workflow(task_id, template)
    assert workflow.id.name == ".flytegen.my_module.train" and workflow.id.version == "v7"
    assert workflow.id.resource_type == identifier_pb2.WORKFLOW
    [node] = workflow.nodes
    assert node.id == generated_node_id("my_module.train") == "mymoduletrain"
    assert node.task_node.reference_id == task_id
    assert node.metadata.retries.retries == DEFAULT_RETRIES
    assert [(b.var, b.binding.promise.node_id) for b in node.inputs] == [("x", "start-node")]
    assert [(b.var, b.binding.promise.node_id) for b in workflow.outputs] == [("o0", "mymoduletrain")]
