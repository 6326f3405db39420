"""What callers must look up before compiling, and task template validation."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.core import identifier_pb2, tasks_pb2

from aloft_compiler import CompileErrors, compile_tasks, required_references


def test_references_follow_sub_workflows_branches_and_arrays(load: Any) -> None:
    sub = load("subworkflow")
    refs = required_references(sub.primary, sub.sub_workflows)
    assert [i.name for i in refs.task_ids] == ["make_fixtures.add_one", "make_fixtures.double", "make_fixtures.square"]
    assert refs.launch_plan_ids == [] and refs.workflow_ids == []

    branch = load("conditional")
    assert len(required_references(branch.primary, []).task_ids) == 3

    mapped = load("map_task")
    (task_id,) = required_references(mapped.primary, []).task_ids
    assert task_id.name.endswith("arraynode")


def test_references_list_launch_plans_and_missing_sub_workflows(load: Any) -> None:
    lp = load("launch_plan")
    refs = required_references(lp.primary, [])
    assert [(i.resource_type, i.name) for i in refs.launch_plan_ids] == [
        (identifier_pb2.ResourceType.LAUNCH_PLAN, "inner_lp")
    ]

    sub = load("subworkflow")
    refs = required_references(sub.primary, [])
    assert [i.name for i in refs.workflow_ids] == ["make_fixtures.inner_wf"]
    assert [i.name for i in refs.task_ids] == ["make_fixtures.square"]  # the sub-workflow's own tasks are unknown


def test_failure_node_task_is_referenced(load: Any) -> None:
    failing = load("failure_node")
    names = {i.name for i in required_references(failing.primary, []).task_ids}
    assert names == {"make_fixtures.fail_loud", "make_fixtures.cleanup"}


def test_compile_tasks_wraps_valid_templates(load: Any) -> None:
    tasks = load("chain").tasks
    compiled = compile_tasks(tasks)
    assert [c.template for c in compiled] == tasks


def test_compile_tasks_rejects_incomplete_templates(load: Any) -> None:
    task = load("chain").task("add_one")
    task.container.image = ""
    del task.container.args[:]
    task.interface.inputs.variables["x"].ClearField("type")
    nameless = load("chain").task("double")
    nameless.id.name = ""
    before = task.SerializeToString(deterministic=True)

    with pytest.raises(CompileErrors) as raised:
        compile_tasks([task, nameless])

    found = {(err.code, err.node_id, err.variable) for err in raised.value.errors}
    assert found == {
        ("ValueRequired", "container", "image"),
        ("ValueRequired", "container", "command"),
        ("ValueRequired", "make_fixtures.add_one", "x.type"),
        ("ValueRequired", "root", "Id"),
    }
    assert task.SerializeToString(deterministic=True) == before, "validation never mutates the template"


@pytest.mark.parametrize(
    ("value", "valid"), [("500m", True), ("1.5Gi", True), ("2", True), ("1e3", True), ("lots", False), ("", False)]
)
def test_container_resource_quantities(load: Any, value: str, valid: bool) -> None:
    task = load("chain").task("add_one")
    task.container.resources.requests.add(name=tasks_pb2.Resources.ResourceName.CPU, value=value)

    if valid:
        compile_tasks([task])
        return
    with pytest.raises(CompileErrors) as raised:
        compile_tasks([task])
    assert [(err.code, err.node_id) for err in raised.value.errors] == [("UnrecognizedValue", "resources.CPU")]


def test_pod_task_container_names_must_be_dns_labels(load: Any) -> None:
    task = load("chain").task("add_one")
    task.ClearField("container")
    task.k8s_pod.pod_spec.update({"containers": [{"name": "primary"}, {"name": "Bad_Name"}]})

    with pytest.raises(CompileErrors) as raised:
        compile_tasks([task])

    assert [(err.code, err.variable) for err in raised.value.errors] == [
        ("InvalidValue", "k8s pod spec container name")
    ]
    task.k8s_pod.pod_spec.Clear()
    task.k8s_pod.pod_spec.update({"containers": [{"name": "primary"}]})
    compile_tasks([task])
