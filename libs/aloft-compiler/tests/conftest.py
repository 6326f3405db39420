"""Fixture loading: protobufs serialized by real flytekit 1.16.31 (see fixtures/make_fixtures.py).

Test modules cannot import this file (pytest runs with --import-mode=importlib), so everything they need is a
fixture: `load` returns a Scenario by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

from aloft_compiler import LaunchPlanInterface, compile_workflow, launch_plan_expected_inputs

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Scenario:
    """One flytekit workflow with everything it references, ready for compile_workflow."""

    name: str
    primary: Any
    sub_workflows: list[Any]
    tasks: list[Any]
    launch_plans: list[LaunchPlanInterface] = field(default_factory=list)
    directory: Path = FIXTURES

    def task(self, short_name: str) -> Any:
        return next(t for t in self.tasks if t.id.name.endswith("." + short_name))

    def node(self, node_id: str) -> Any:
        return next(n for n in self.primary.nodes if n.id == node_id)

    def compile(self) -> Any:
        return compile_workflow(self.primary, self.sub_workflows, self.tasks, self.launch_plans)


def _parse(message: Any, path: Path) -> Any:
    message.ParseFromString(path.read_bytes())
    return message


def load_scenario(name: str) -> Scenario:
    directory = FIXTURES / name
    manifest = json.loads((directory / "manifest.json").read_text())
    specs = {f: _parse(workflow_pb2.WorkflowSpec(), directory / f) for f in manifest["workflows"]}
    primary_spec = specs[manifest["primary"]]
    tasks = [_parse(task_pb2.TaskSpec(), directory / f).template for f in manifest["tasks"]]
    templates = {spec.template.id.name: spec.template for spec in specs.values()}
    launch_plans = []
    for file in manifest["launch_plans"]:
        lp = _parse(launch_plan_pb2.LaunchPlan(), directory / file)
        # Admin derives the closure's expected inputs from the workflow interface and the LP's defaults/fixed.
        workflow = templates[lp.spec.workflow_id.name]
        expected = launch_plan_expected_inputs(workflow.interface.inputs, lp.spec.default_inputs, lp.spec.fixed_inputs)
        lp.closure.expected_inputs.CopyFrom(expected)
        lp.closure.expected_outputs.CopyFrom(workflow.interface.outputs)
        launch_plans.append(LaunchPlanInterface.from_launch_plan(lp))
    return Scenario(
        name=name,
        primary=primary_spec.template,
        sub_workflows=list(primary_spec.sub_workflows),
        tasks=tasks,
        launch_plans=launch_plans,
        directory=directory,
    )


@pytest.fixture
def load() -> Callable[[str], Scenario]:
    return load_scenario
