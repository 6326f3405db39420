"""Every real flytekit workflow compiles, and the closure has Flyte's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import dynamic_job_pb2, identifier_pb2, types_pb2, workflow_pb2

from aloft_compiler import END_NODE_ID, START_NODE_ID, compile_dynamic_job, compile_workflow

SCENARIOS = sorted(p.name for p in (Path(__file__).parent / "fixtures").iterdir() if (p / "manifest.json").exists())


def _ids(id_lists: Any) -> dict[str, list[str]]:
    return {key: list(value.ids) for key, value in id_lists.items()}


def _assert_graph_shape(compiled: Any) -> None:
    nodes = [n.id for n in compiled.template.nodes]
    assert nodes[:2] == [START_NODE_ID, END_NODE_ID]
    assert len(nodes) == len(set(nodes))
    downstream = _ids(compiled.connections.downstream)
    upstream = _ids(compiled.connections.upstream)
    top_level = set(nodes)
    # Every top-level edge is recorded in both directions.
    for provider, dependents in downstream.items():
        for dependent in dependents:
            assert provider in upstream[dependent]
    for dependent, providers in upstream.items():
        if dependent in top_level:
            for provider in providers:
                assert dependent in downstream[provider]
    # Every user node hangs between start-node and end-node.
    reachable, frontier = set(), [START_NODE_ID]
    while frontier:
        current = frontier.pop()
        if current not in reachable:
            reachable.add(current)
            frontier.extend(downstream.get(current, []))
    assert reachable == top_level


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_fixture_compiles_into_flyte_shape(name: str, load: Any) -> None:
    scenario = load(name)

    def snapshot() -> list[bytes]:
        messages = [scenario.primary, *scenario.sub_workflows, *scenario.tasks]
        return [m.SerializeToString(deterministic=True) for m in messages]

    original = snapshot()

    closure = scenario.compile()

    assert snapshot() == original, "inputs must not be mutated"
    _assert_graph_shape(closure.primary)
    assert closure.primary.template.id == scenario.primary.id
    assert {t.template.id.name for t in closure.tasks} == {t.id.name for t in scenario.tasks}
    assert len(closure.sub_workflows) == len(scenario.sub_workflows)
    for sub in closure.sub_workflows:
        _assert_graph_shape(sub)
    assert len(closure.launch_plans) == 0  # flyteadmin leaves launch plans out of the closure
    # Promises to workflow inputs point at start-node once compiled.
    for node in closure.primary.template.nodes:
        for binding in node.inputs:
            if binding.binding.HasField("promise"):
                assert binding.binding.promise.node_id != ""


def test_chain_connections_and_end_node_bindings(load: Any) -> None:
    closure = load("chain").compile()

    primary = closure.primary
    assert _ids(primary.connections.downstream) == {
        START_NODE_ID: ["n0"],
        "n0": ["n1"],
        "n1": ["n2"],
        "n2": [END_NODE_ID],
    }
    assert _ids(primary.connections.upstream) == {
        "n0": [START_NODE_ID],
        "n1": ["n0"],
        "n2": ["n1"],
        END_NODE_ID: ["n2"],
    }
    end = primary.template.nodes[1]
    assert [(b.var, b.binding.promise.node_id, b.binding.promise.var) for b in end.inputs] == [("o0", "n2", "o0")]
    n0 = next(n for n in primary.template.nodes if n.id == "n0")
    assert n0.inputs[0].binding.promise.node_id == START_NODE_ID
    assert list(n0.upstream_node_ids) == []
    n2 = next(n for n in primary.template.nodes if n.id == "n2")
    assert list(n2.upstream_node_ids) == ["n1"]


def test_branch_nodes_are_renamed_and_connected_upstream(load: Any) -> None:
    closure = load("conditional").compile()

    branch = next(n for n in closure.primary.template.nodes if n.id == "n0")
    if_else = branch.branch_node.if_else
    children = [if_else.case.then_node.id, *(b.then_node.id for b in if_else.other), if_else.else_node.id]
    assert children == ["n0-n0", "n0-n1", "n0-n2"]
    upstream = _ids(closure.primary.connections.upstream)
    for child in children:
        assert upstream[child] == [START_NODE_ID]
    # The branch's output is what every case produces.
    assert _ids(closure.primary.connections.downstream)["n0"] == [END_NODE_ID]


def test_subworkflow_is_compiled_in_closure(load: Any) -> None:
    closure = load("subworkflow").compile()

    (sub,) = closure.sub_workflows
    assert sub.template.id.name.endswith("inner_wf")
    assert [n.id for n in sub.template.nodes] == [START_NODE_ID, END_NODE_ID, "n0", "n1"]
    assert _ids(sub.connections.downstream)[START_NODE_ID] == ["n0"]


def test_failure_node_is_validated_and_connected(load: Any) -> None:
    closure = load("failure_node").compile()

    template = closure.primary.template
    assert template.failure_node.id == "fn0"
    assert "fn0" not in [n.id for n in template.nodes]
    assert _ids(closure.primary.connections.upstream)["fn0"] == [START_NODE_ID]


def test_gate_nodes_expose_signal_and_approved_values(load: Any) -> None:
    closure = load("gates").compile()

    upstream = _ids(closure.primary.connections.upstream)
    assert upstream["n4"] == ["n1", "n3"]  # sum_list([approved, signal])
    assert upstream["n3"] == ["n2"]  # approve(a)
    assert upstream["n2"] == ["n0", START_NODE_ID]  # sleep >> add_one, plus the workflow input


def test_dataclass_attribute_access_resolves_field_type(load: Any) -> None:
    scenario = load("dataclass")
    closure = scenario.compile()

    n1 = next(n for n in closure.primary.template.nodes if n.id == "n1")
    assert [a.string_value for a in n1.inputs[0].binding.promise.attr_path] == ["x"]


def test_launch_plan_node_may_leave_defaulted_inputs_unbound(load: Any) -> None:
    scenario = load("launch_plan")
    n1 = scenario.node("n1")
    assert n1.workflow_node.HasField("launchplan_ref")
    del n1.inputs[:]  # flytekit binds the default explicitly; Flyte also accepts leaving it to the launch plan

    closure = scenario.compile()

    assert _ids(closure.primary.connections.downstream)["n0"] == ["n2"]


def test_dynamic_job_spec_compiles_like_propeller_does(load: Any) -> None:
    scenario = load("dynamic")
    job = dynamic_job_pb2.DynamicJobSpec()
    job.ParseFromString((scenario.directory / "dynamic_job.pb").read_bytes())
    dynamic_task = scenario.task("dyn_fanout")
    workflow_id = identifier_pb2.Identifier(project="p", domain="d", name="dynamic_n0", version="abc")

    closure = compile_dynamic_job(job, dynamic_task.interface, workflow_id)

    assert closure.primary.template.id.resource_type == identifier_pb2.ResourceType.WORKFLOW
    assert len(closure.primary.template.nodes) == 2 + len(job.nodes)
    assert _ids(closure.primary.connections.upstream)[END_NODE_ID] == ["dn1", "dn3", "dn5"]
    assert _ids(closure.primary.connections.upstream)["dn1"] == ["dn0"]


def test_map_task_array_node_uses_list_interface(load: Any) -> None:
    scenario = load("map_task")
    closure = scenario.compile()

    array = next(n for n in closure.primary.template.nodes if n.id == "n0")
    assert array.array_node.node.task_node.reference_id.name.endswith("arraynode")
    (task,) = scenario.tasks
    assert task.interface.inputs.variables["x"].type.collection_type.simple == types_pb2.SimpleType.INTEGER


def test_large_fan_out_fan_in_workflow(load: Any) -> None:
    """A dynamic-sized graph: 2,000 parallel add_one nodes gathered into one list output."""
    scenario = load("chain")
    add_one = scenario.task("add_one")
    width = 2000
    template = workflow_pb2.WorkflowTemplate()
    template.CopyFrom(scenario.primary)
    del template.nodes[:]
    del template.outputs[:]
    template.interface.outputs.variables["o0"].type.CopyFrom(
        types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER))
    )
    gathered = template.outputs.add(var="o0")
    for i in range(width):
        node = template.nodes.add(id=f"n{i}")
        node.task_node.reference_id.CopyFrom(add_one.id)
        binding = node.inputs.add(var="x")
        binding.binding.promise.node_id = START_NODE_ID
        binding.binding.promise.var = "x"
        gathered.binding.collection.bindings.add().promise.CopyFrom(
            types_pb2.OutputReference(node_id=f"n{i}", var="o0")
        )

    closure = compile_workflow(template, [], [add_one])

    assert len(closure.primary.connections.downstream[START_NODE_ID].ids) == width
    assert len(closure.primary.connections.upstream[END_NODE_ID].ids) == width
    _assert_graph_shape(closure.primary)


def test_map_over_launch_plan_sees_list_interface(load: Any) -> None:
    scenario = load("map_launch_plan")
    array = scenario.node("n0").array_node
    assert array.is_original_sub_node_interface.value
    assert array.node.workflow_node.HasField("launchplan_ref")

    closure = scenario.compile()

    assert _ids(closure.primary.connections.upstream)[END_NODE_ID] == ["n0"]


def test_map_over_launch_plan_checks_item_types(load: Any) -> None:
    from aloft_compiler import CompileErrors

    scenario = load("map_launch_plan")
    # The workflow now hands a list of strings to a launch plan whose x is an int.
    scenario.primary.interface.inputs.variables["xs"].type.collection_type.simple = types_pb2.SimpleType.STRING

    with pytest.raises(CompileErrors) as raised:
        scenario.compile()

    assert {(e.code, e.node_id, e.variable) for e in raised.value.errors} == {("MismatchingTypes", "n0", "x")}


@pytest.mark.parametrize("name", ["chain", "conditional", "gates", "subworkflow"])
def test_recompiling_a_compiled_template_is_idempotent(name: str, load: Any) -> None:
    scenario = load(name)
    first = scenario.compile()
    sub_templates = [sub.template for sub in first.sub_workflows]

    second = compile_workflow(first.primary.template, sub_templates, scenario.tasks, scenario.launch_plans)

    assert second.primary == first.primary
    assert list(second.sub_workflows) == list(first.sub_workflows)
