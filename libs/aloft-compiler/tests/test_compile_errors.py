"""Broken workflows are rejected with Flyte's error codes, each naming the node and the variable."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.core import types_pb2

from aloft_compiler import CompileError, CompileErrors, compile_workflow


def _errors(scenario: Any) -> list[CompileError]:
    with pytest.raises(CompileErrors) as raised:
        scenario.compile()
    return raised.value.errors


def _find(errors: list[CompileError], code: str) -> CompileError:
    matching = [err for err in errors if err.code == code]
    assert matching, f"no {code} in {[str(err) for err in errors]}"
    return matching[0]


def test_type_mismatch_names_node_and_variable(load: Any) -> None:
    scenario = load("chain")
    # double(x: int) now declares a string input, so n0's int output no longer fits n1.x
    scenario.task("double").interface.inputs.variables["x"].type.simple = types_pb2.SimpleType.STRING

    error = _find(_errors(scenario), "MismatchingTypes")

    assert (error.node_id, error.variable) == ("n1", "x")
    assert "n1" in error.message and "'add_one.o0'" in error.message and "double.x" in error.message


def test_cycle_is_detected(load: Any) -> None:
    scenario = load("chain")
    scenario.node("n0").upstream_node_ids.append("n2")

    error = _find(_errors(scenario), "CycleDetected")

    assert error.node_id == "start-node"
    assert "n0>n1>n2>n0" in error.message


def test_unbound_required_input(load: Any) -> None:
    scenario = load("chain")
    del scenario.node("n1").inputs[:]

    error = _find(_errors(scenario), "ParameterNotBound")

    assert (error.node_id, error.variable) == ("n1", "x")


def test_unknown_upstream_node_in_binding(load: Any) -> None:
    scenario = load("chain")
    scenario.node("n1").inputs[0].binding.promise.node_id = "ghost"

    errors = _errors(scenario)

    error = _find(errors, "NodeReferenceNotFound")
    assert error.node_id == "n1" and "ghost" in error.message
    assert _find(errors, "ParameterNotBound").variable == "x"


def test_unknown_upstream_node_id(load: Any) -> None:
    scenario = load("chain")
    scenario.node("n2").upstream_node_ids.append("ghost")

    error = _find(_errors(scenario), "NodeReferenceNotFound")

    assert error.node_id == "n2" and "ghost" in error.message


def test_missing_task_reference(load: Any) -> None:
    scenario = load("chain")
    scenario.tasks = [t for t in scenario.tasks if not t.id.name.endswith(".double")]

    error = _find(_errors(scenario), "TaskReferenceNotFound")

    assert error.node_id == "n1" and "make_fixtures.double" in error.message


def test_missing_sub_workflow_and_launch_plan(load: Any) -> None:
    sub = load("subworkflow")
    sub.sub_workflows = []
    assert _find(_errors(sub), "WorkflowReferenceNotFound").node_id == "n0"

    lp = load("launch_plan")
    lp.launch_plans = []
    assert _find(_errors(lp), "WorkflowReferenceNotFound").node_id == "n0"


def test_unreachable_nodes(load: Any) -> None:
    scenario = load("list_dict")
    # n3 (make_dict) and n4 (dict_total) now only depend on each other: never reachable from start-node.
    # n5 still is, through its other input (n1).
    scenario.node("n3").upstream_node_ids.append("n4")
    del scenario.node("n3").inputs[:]
    scenario.task("make_dict").interface.inputs.Clear()

    error = _find(_errors(scenario), "UnreachableNodes")

    assert error.node_id == "start-node"
    assert "[n3,n4]" in error.message


def test_branch_without_else_or_error(load: Any) -> None:
    scenario = load("conditional")
    scenario.node("n0").branch_node.if_else.ClearField("else_node")

    error = _find(_errors(scenario), "BranchNodeHasNoDefault")

    assert error.node_id == "n0"


def test_branch_with_error_default_compiles(load: Any) -> None:
    scenario = load("conditional_fail")
    assert scenario.node("n0").branch_node.if_else.HasField("error")
    scenario.compile()


def test_branch_condition_on_unknown_input(load: Any) -> None:
    scenario = load("conditional")
    scenario.node("n0").branch_node.if_else.case.condition.comparison.left_value.var = ".nope"

    error = _find(_errors(scenario), "VariableNameNotFound")

    assert (error.node_id, error.variable) == ("n0", ".nope")


def test_branch_comparison_types_must_match(load: Any) -> None:
    scenario = load("conditional")
    right = scenario.node("n0").branch_node.if_else.case.condition.comparison.right_value
    right.primitive.string_value = "zero"

    error = _find(_errors(scenario), "MismatchingTypes")

    assert (error.node_id, error.variable) == ("n0", "RightValue")


def test_bad_workflow_output_binding(load: Any) -> None:
    scenario = load("chain")
    scenario.primary.outputs[0].binding.promise.var = "missing"

    error = _find(_errors(scenario), "VariableNameNotFound")

    assert (error.node_id, error.variable) == ("n2", "missing")


def test_workflow_output_type_mismatch(load: Any) -> None:
    scenario = load("chain")
    scenario.primary.interface.outputs.variables["o0"].type.simple = types_pb2.SimpleType.INTEGER

    error = _find(_errors(scenario), "MismatchingTypes")

    assert (error.node_id, error.variable) == ("end-node", "o0")


def test_unknown_dataclass_field(load: Any) -> None:
    scenario = load("dataclass")
    scenario.node("n1").inputs[0].binding.promise.attr_path[0].string_value = "z"

    error = _find(_errors(scenario), "FieldNotFound")

    assert error.node_id == "n1" and "[z]" in error.message


def test_dataclass_field_type_is_checked(load: Any) -> None:
    scenario = load("dataclass")
    scenario.node("n1").inputs[0].binding.promise.attr_path[0].string_value = "label"  # str into use_x(x: int)

    error = _find(_errors(scenario), "MismatchingTypes")

    assert (error.node_id, error.variable) == ("n1", "x")


def test_unknown_input_name_and_duplicate_binding(load: Any) -> None:
    scenario = load("chain")
    n1 = scenario.node("n1")
    n1.inputs.add().CopyFrom(n1.inputs[0])
    extra = n1.inputs.add()
    extra.CopyFrom(n1.inputs[0])
    extra.var = "y"

    errors = _errors(scenario)

    assert _find(errors, "ParameterBoundMoreThanOnce").variable == "x"
    assert _find(errors, "VariableNameNotFound").variable == "y"


def test_illegal_enum_literal(load: Any) -> None:
    scenario = load("enum")
    node = scenario.node("n0")  # color_name(c=<workflow input>) becomes color_name(c="blue")
    node.inputs[0].binding.ClearField("promise")
    node.inputs[0].binding.scalar.primitive.string_value = "blue"

    error = _find(_errors(scenario), "IllegalEnumValue")

    assert (error.node_id, error.variable) == ("n0", "c")


def test_all_errors_are_collected_not_fail_first(load: Any) -> None:
    scenario = load("chain")
    del scenario.node("n1").inputs[:]
    scenario.task("to_str").interface.inputs.variables["x"].type.simple = types_pb2.SimpleType.BOOLEAN

    with pytest.raises(CompileErrors) as raised:
        scenario.compile()

    found = {(err.code, err.node_id, err.variable) for err in raised.value.errors}
    assert ("ParameterNotBound", "n1", "x") in found
    assert ("MismatchingTypes", "n2", "x") in found
    # Rendered the way Flyte renders them, so users see the familiar text.
    assert "Code: ParameterNotBound, Node Id: n1, Description: Parameter not bound [x]." in str(raised.value)
    assert str(raised.value).startswith(f"Collected Errors: {len(raised.value.errors)}\n\tError 0: Code: ")


def test_workflow_without_nodes(load: Any) -> None:
    scenario = load("chain")
    del scenario.primary.nodes[:]

    error = _find(_errors(scenario), "NoNodesFound")

    assert "chain_wf" in error.node_id


def test_duplicate_node_ids(load: Any) -> None:
    scenario = load("chain")
    scenario.primary.nodes.add().CopyFrom(scenario.node("n2"))

    assert _find(_errors(scenario), "DuplicateId").node_id == "n2"


def test_branch_cases_with_different_output_types(load: Any) -> None:
    scenario = load("conditional")
    # square (the else case) now returns a string while the other cases return an int.
    scenario.task("square").interface.outputs.variables["o0"].type.simple = types_pb2.SimpleType.STRING

    errors = _errors(scenario)

    mismatch = _find(errors, "MismatchingTypes")
    assert (mismatch.node_id, mismatch.variable) == ("n0-n2", "o0")


def test_gate_signal_without_type(load: Any) -> None:
    scenario = load("gates")
    scenario.node("n1").gate_node.signal.ClearField("type")

    error = _find(_errors(scenario), "ValueRequired")

    assert error.node_id == "n1" and error.variable == "GateNode.Signal.Type"


def test_dynamic_workflow_with_missing_task(load: Any) -> None:
    from flyteidl.core import dynamic_job_pb2, workflow_pb2

    scenario = load("dynamic")
    job = dynamic_job_pb2.DynamicJobSpec()
    job.ParseFromString((scenario.directory / "dynamic_job.pb").read_bytes())
    task = scenario.task("dyn_fanout")
    template = workflow_pb2.WorkflowTemplate(id=task.id, interface=task.interface, nodes=job.nodes, outputs=job.outputs)

    with pytest.raises(CompileErrors) as raised:
        compile_workflow(template, [], [t for t in job.tasks if not t.id.name.endswith("square")])

    assert {err.node_id for err in raised.value.errors if err.code == "TaskReferenceNotFound"} == {"dn1"}


def test_blob_formats_must_agree(load: Any) -> None:
    scenario = load("files")
    scenario.task("read_csv").interface.inputs.variables["f"].type.blob.format = "parquet"

    errors = _errors(scenario)

    assert {(e.code, e.node_id, e.variable) for e in errors} == {("MismatchingTypes", "n2", "f")}


def test_structured_dataset_formats_must_agree(load: Any) -> None:
    scenario = load("structured_dataset")
    scenario.task("count_rows").interface.inputs.variables["df"].type.structured_dataset_type.format = "csv"

    errors = _errors(scenario)

    assert {(e.code, e.node_id, e.variable) for e in errors} == {("MismatchingTypes", "n1", "df")}


def test_union_literal_must_match_a_variant(load: Any) -> None:
    scenario = load("optional_union")
    n2 = scenario.node("n2")  # int_or_str(v="literal"): a float fits neither int nor str
    n2.inputs[0].binding.scalar.union.value.scalar.primitive.float_value = 1.5
    n2.inputs[0].binding.scalar.union.type.simple = types_pb2.SimpleType.FLOAT
    n2.inputs[0].binding.scalar.union.type.structure.tag = "float"

    errors = _errors(scenario)

    assert {(e.code, e.node_id, e.variable) for e in errors} == {("MismatchingTypes", "n2", "v")}


def test_optional_input_may_stay_unbound_but_required_may_not(load: Any) -> None:
    scenario = load("optional_union")
    del scenario.node("n1").inputs[:]  # maybe_int() with x: Optional[int]
    scenario.compile()

    del scenario.node("n2").inputs[:]  # int_or_str(v: int | str) has no none variant
    assert {(e.code, e.node_id, e.variable) for e in _errors(scenario)} == {("ParameterNotBound", "n2", "v")}


def test_enum_values_must_match(load: Any) -> None:
    scenario = load("enum")
    scenario.task("color_name").interface.inputs.variables["c"].type.enum_type.values.append("blue")

    errors = _errors(scenario)

    # Neither the workflow's enum input (n0) nor pick_color's enum output (n2) has the same values any more.
    assert {(e.code, e.node_id, e.variable) for e in errors} == {
        ("MismatchingTypes", "n0", "c"),
        ("MismatchingTypes", "n2", "c"),
    }


def test_sub_workflow_containing_itself_is_a_cycle(load: Any) -> None:
    scenario = load("subworkflow")
    (inner,) = scenario.sub_workflows
    # inner_wf's first node now runs inner_wf itself instead of add_one.
    first = inner.nodes[0]
    first.ClearField("task_node")
    first.workflow_node.sub_workflow_ref.CopyFrom(inner.id)

    error = _find(_errors(scenario), "CycleDetected")

    assert error.node_id == "n0" and "contains itself" in error.message


def test_scalar_operands_are_rejected_as_in_flyte(load: Any) -> None:
    scenario = load("conditional")
    right = scenario.node("n0").branch_node.if_else.case.condition.comparison.right_value
    right.scalar.none_type.SetInParent()  # what flytekit's `x.is_none()` serializes

    error = _find(_errors(scenario), "ValueRequired")

    assert (error.node_id, error.variable) == ("n0", "RightValue.Val")
