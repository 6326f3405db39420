"""Builders for flyteidl task/workflow/launch-plan specs used by the entity tests (fixture ``entities``)."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_wf

PROJECT, DOMAIN = "flytesnacks", "development"
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)
DATETIME = types_pb2.LiteralType(simple=types_pb2.DATETIME)


class EntityBuilder:
    project = PROJECT
    domain = DOMAIN
    INT = INT
    STR = STR
    DATETIME = DATETIME

    def id(self, resource_type: int, name: str, version: str = "v1") -> identifier_pb2.Identifier:
        return identifier_pb2.Identifier(
            resource_type=resource_type,  # type: ignore[arg-type]
            project=self.project,
            domain=self.domain,
            name=name,
            version=version,
        )

    def task_id(self, name: str, version: str = "v1") -> identifier_pb2.Identifier:
        return self.id(identifier_pb2.TASK, name, version)

    def workflow_id(self, name: str, version: str = "v1") -> identifier_pb2.Identifier:
        return self.id(identifier_pb2.WORKFLOW, name, version)

    def launch_plan_id(self, name: str, version: str = "v1") -> identifier_pb2.Identifier:
        return self.id(identifier_pb2.LAUNCH_PLAN, name, version)

    @staticmethod
    def interface(inputs: dict[str, Any], outputs: dict[str, Any]) -> interface_pb2.TypedInterface:
        return interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={k: interface_pb2.Variable(type=v) for k, v in inputs.items()}),
            outputs=interface_pb2.VariableMap(
                variables={k: interface_pb2.Variable(type=v) for k, v in outputs.items()}
            ),
        )

    def task_request(
        self,
        name: str,
        version: str = "v1",
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        image: str = "python:3.11",
        description: str = "",
    ) -> task_pb2.TaskCreateRequest:
        id = self.task_id(name, version)
        template = tasks_pb2.TaskTemplate(
            id=id,
            type="python-task",
            metadata=tasks_pb2.TaskMetadata(
                runtime=tasks_pb2.RuntimeMetadata(type=tasks_pb2.RuntimeMetadata.FLYTE_SDK, version="1.16.0")
            ),
            interface=self.interface(inputs or {"a": INT}, outputs or {"o0": INT}),
            container=tasks_pb2.Container(image=image, args=["pyflyte-execute"]),
        )
        spec = task_pb2.TaskSpec(template=template)
        if description:
            spec.description.short_description = description
        return task_pb2.TaskCreateRequest(id=id, spec=spec)

    @staticmethod
    def promise(node_id: str, var: str) -> literals_pb2.BindingData:
        return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))

    @staticmethod
    def binding(var: str, data: literals_pb2.BindingData) -> literals_pb2.Binding:
        return literals_pb2.Binding(var=var, binding=data)

    def task_node(
        self, node_id: str, task: identifier_pb2.Identifier, bindings: dict[str, literals_pb2.BindingData]
    ) -> core_wf.Node:
        return core_wf.Node(
            id=node_id,
            metadata=core_wf.NodeMetadata(name=node_id),
            inputs=[self.binding(k, v) for k, v in bindings.items()],
            task_node=core_wf.TaskNode(reference_id=task),
        )

    def subworkflow_node(
        self, node_id: str, workflow: identifier_pb2.Identifier, bindings: dict[str, literals_pb2.BindingData]
    ) -> core_wf.Node:
        return core_wf.Node(
            id=node_id,
            metadata=core_wf.NodeMetadata(name=node_id),
            inputs=[self.binding(k, v) for k, v in bindings.items()],
            workflow_node=core_wf.WorkflowNode(sub_workflow_ref=workflow),
        )

    def workflow_template(
        self,
        id: identifier_pb2.Identifier,
        nodes: list[core_wf.Node],
        inputs: dict[str, Any],
        outputs: dict[str, tuple[Any, literals_pb2.BindingData]],
    ) -> core_wf.WorkflowTemplate:
        return core_wf.WorkflowTemplate(
            id=id,
            metadata=core_wf.WorkflowMetadata(),
            interface=self.interface(inputs, {k: t for k, (t, _) in outputs.items()}),
            nodes=nodes,
            outputs=[self.binding(k, data) for k, (_, data) in outputs.items()],
        )

    def simple_workflow(
        self, name: str, task: identifier_pb2.Identifier, version: str = "v1"
    ) -> workflow_pb2.WorkflowCreateRequest:
        """wf(x: int) -> int: one task node n0 = task(a=x), output o0 = n0.o0."""
        id = self.workflow_id(name, version)
        node = self.task_node("n0", task, {"a": self.promise("start-node", "x")})
        template = self.workflow_template(id, [node], {"x": INT}, {"o0": (INT, self.promise("n0", "o0"))})
        return workflow_pb2.WorkflowCreateRequest(id=id, spec=workflow_pb2.WorkflowSpec(template=template))

    def launch_plan_request(
        self,
        name: str,
        workflow: identifier_pb2.Identifier,
        version: str = "v1",
        defaults: dict[str, tuple[Any, literals_pb2.Literal | None]] | None = None,
        fixed: dict[str, literals_pb2.Literal] | None = None,
    ) -> launch_plan_pb2.LaunchPlanCreateRequest:
        id = self.launch_plan_id(name, version)
        parameters = {}
        for key, (literal_type, default) in (defaults or {}).items():
            parameter = interface_pb2.Parameter(var=interface_pb2.Variable(type=literal_type))
            if default is None:
                parameter.required = True
            else:
                parameter.default.CopyFrom(default)
            parameters[key] = parameter
        spec = launch_plan_pb2.LaunchPlanSpec(
            workflow_id=workflow,
            default_inputs=interface_pb2.ParameterMap(parameters=parameters),
            fixed_inputs=literals_pb2.LiteralMap(literals=fixed or {}),
        )
        return launch_plan_pb2.LaunchPlanCreateRequest(id=id, spec=spec)

    @staticmethod
    def int_literal(value: int) -> literals_pb2.Literal:
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))

    @staticmethod
    def str_literal(value: str) -> literals_pb2.Literal:
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))


@pytest.fixture
def entities() -> EntityBuilder:
    return EntityBuilder()
