"""Reading `pyflyte package` archives and hydrating their specs the way flytectl does (no server needed)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, tasks_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from aloftctl import registration
from aloftctl.client import CommandError

TASK = identifier_pb2.ResourceType.TASK
TARGET = registration.Target(project="p", domain="d", version="v1")


def _task() -> task_pb2.TaskSpec:
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(resource_type=TASK, name="flows.add_one"),
        container=tasks_pb2.Container(
            args=["pyflyte-fast-execute", "--additional-distribution", "{{ .remote_package_path }}",
                  "--dest-dir", "{{ .dest_dir }}", "--", "pyflyte-execute"]
        ),
    )  # fmt: skip
    return task_pb2.TaskSpec(template=template)


def _workflow() -> workflow_pb2.WorkflowSpec:
    node = core_workflow_pb2.Node(
        id="n0",
        task_node=core_workflow_pb2.TaskNode(
            reference_id=identifier_pb2.Identifier(
                resource_type=TASK, project="{{ registration.project }}", name="flows.add_one", version="pinned"
            )
        ),
    )
    template = core_workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.ResourceType.WORKFLOW, name="flows.wf"), nodes=[node]
    )
    return workflow_pb2.WorkflowSpec(template=template)


def _package(tmp_path: Path, with_source: bool = True) -> Path:
    content = tmp_path / "content"
    content.mkdir()
    (content / "00_flows.add_one_1.pb").write_bytes(_task().SerializeToString())
    (content / "01_flows.wf_2.pb").write_bytes(_workflow().SerializeToString())
    plan = launch_plan_pb2.LaunchPlan(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.ResourceType.LAUNCH_PLAN, name="flows.wf"),
        spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=_workflow().template.id),
    )
    (content / "02_flows.wf_3.pb").write_bytes(plan.SerializeToString())
    if with_source:
        (content / "fastabc123.tar.gz").write_bytes(b"code")
    archive = tmp_path / "flyte-package.tgz"
    with tarfile.open(archive, "w:gz") as bundle:
        for item in sorted(content.iterdir()):
            bundle.add(item, arcname=item.name)
    return archive


def test_archive_specs_in_order_with_source(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    specs, source = registration.collect([str(_package(tmp_path))], archive=True, workdir=workdir)
    assert [p.name for p in specs] == ["00_flows.add_one_1.pb", "01_flows.wf_2.pb", "02_flows.wf_3.pb"]
    assert source is not None and source.name == "fastabc123.tar.gz"
    kinds = [type(registration.load(p)) for p in specs]
    assert kinds == [task_pb2.TaskSpec, workflow_pb2.WorkflowSpec, launch_plan_pb2.LaunchPlan]


def test_hydration_fills_identifiers_and_code_location() -> None:
    task = _task()
    registration.hydrate(task, TARGET, "file:///store/p/d/abc/fastabc123.tar.gz")
    assert (task.template.id.project, task.template.id.domain, task.template.id.version) == ("p", "d", "v1")
    assert list(task.template.container.args)[2:5] == ["file:///store/p/d/abc/fastabc123.tar.gz", "--dest-dir", "."]
    workflow = _workflow()
    registration.hydrate(workflow, TARGET, "")
    reference = workflow.template.nodes[0].task_node.reference_id
    assert (reference.project, reference.domain, reference.version) == ("p", "d", "pinned")  # a set version stays
    forced = _workflow()
    registration.hydrate(forced, registration.Target("p", "d", "v2", force=True), "")
    assert forced.template.nodes[0].task_node.reference_id.version == "v2"


def test_fast_task_without_source_is_refused() -> None:
    with pytest.raises(CommandError, match="no fast"):
        registration.hydrate(_task(), TARGET, "")


def test_not_a_package(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match=r"no \.pb files"):
        registration.collect([str(tmp_path / "notes.txt")], archive=False, workdir=tmp_path)
