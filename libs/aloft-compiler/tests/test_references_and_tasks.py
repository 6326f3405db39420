"""What callers must look up before compiling, and task template validation."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.core import identifier_pb2

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

    with pytest.raises(CompileErrors) as raised:
        compile_tasks([task, nameless])

    found = {(err.code, err.variable) for err in raised.value.errors}
    assert ("ValueRequired", "container.image") in found
    assert ("ValueRequired", "container.command") in found
    assert ("ValueRequired", "x.type") in found
    assert ("ValueRequired", "Id") in found
