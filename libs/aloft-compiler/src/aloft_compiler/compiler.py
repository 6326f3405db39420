"""Public entry points: compile a registered workflow (admin) or a dynamic workflow (propeller)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flyteidl.admin import launch_plan_pb2
from flyteidl.core import (
    compiler_pb2,
    dynamic_job_pb2,
    identifier_pb2,
    interface_pb2,
    tasks_pb2,
    workflow_pb2,
)

from . import errors as e
from ._common import id_key, id_str
from ._tasks import validate_task
from ._workflow import CompileContext, compile_into, new_compiled_workflow


@dataclass(frozen=True)
class LaunchPlanInterface:
    """What a launch-plan node needs to know about the launch plan it calls.

    `interface.inputs` lists the inputs callers may pass (fixed inputs removed); all are treated as required
    unless `expected_inputs` (the launch plan closure's ParameterMap) is given, in which case inputs with a
    default need not be bound, exactly as Flyte decides from `expected_inputs`.
    """

    id: identifier_pb2.Identifier
    interface: interface_pb2.TypedInterface
    parameters: interface_pb2.ParameterMap | None = field(default=None)

    def expected_inputs(self) -> interface_pb2.ParameterMap:
        if self.parameters is not None:
            return self.parameters
        params = interface_pb2.ParameterMap()
        for name, variable in self.interface.inputs.variables.items():
            params.parameters[name].var.CopyFrom(variable)
            params.parameters[name].required = True
        return params

    @classmethod
    def from_launch_plan(cls, launch_plan: launch_plan_pb2.LaunchPlan) -> LaunchPlanInterface:
        """From an admin LaunchPlan whose closure carries expected_inputs/expected_outputs."""
        closure = launch_plan.closure
        interface = interface_pb2.TypedInterface()
        interface.inputs.SetInParent()
        for name, parameter in closure.expected_inputs.parameters.items():
            interface.inputs.variables[name].CopyFrom(parameter.var)
        interface.outputs.CopyFrom(closure.expected_outputs)
        return cls(id=launch_plan.id, interface=interface, parameters=closure.expected_inputs)


@dataclass(frozen=True)
class References:
    """Entities a caller must look up before compiling (deduplicated, sorted like Flyte's IdentifierSet)."""

    task_ids: list[identifier_pb2.Identifier]
    launch_plan_ids: list[identifier_pb2.Identifier]
    workflow_ids: list[identifier_pb2.Identifier]


def _sort_key(identifier: Any) -> tuple[int, str, str, str, str]:
    return (identifier.resource_type, identifier.project, identifier.domain, identifier.name, identifier.version)


class _ReferenceWalker:
    """Collects referenced entities, each with the first node that refers to it (for error messages)."""

    def __init__(self, sub_workflows: dict[str, Any]) -> None:
        self.sub_workflows = sub_workflows
        self.tasks: dict[str, tuple[str, Any]] = {}
        self.launch_plans: dict[str, tuple[str, Any]] = {}
        self.workflows: dict[str, tuple[str, Any]] = {}
        self._seen_workflows: set[str] = set()

    def workflow(self, template: Any) -> None:
        for node in template.nodes:
            self.node(node)
        if template.HasField("failure_node"):
            self.node(template.failure_node)

    def node(self, node: Any) -> None:
        kind = node.WhichOneof("target")
        if kind == "task_node" and node.task_node.HasField("reference_id"):
            self.tasks.setdefault(id_key(node.task_node.reference_id), (node.id, node.task_node.reference_id))
        elif kind == "workflow_node":
            self._workflow_node(node.id, node.workflow_node)
        elif kind == "branch_node":
            if_else = node.branch_node.if_else
            for block in [if_else.case, *if_else.other]:
                if block.HasField("then_node"):
                    self.node(block.then_node)
            if if_else.HasField("else_node"):
                self.node(if_else.else_node)
        elif kind == "array_node" and node.array_node.HasField("node"):
            self.node(node.array_node.node)

    def _workflow_node(self, node_id: str, workflow_node: Any) -> None:
        reference = workflow_node.WhichOneof("reference")
        if reference == "launchplan_ref":
            ref = workflow_node.launchplan_ref
            self.launch_plans.setdefault(id_key(ref), (node_id, ref))
        elif reference == "sub_workflow_ref":
            ref = workflow_node.sub_workflow_ref
            key = id_key(ref)
            if key in self._seen_workflows:
                return
            self._seen_workflows.add(key)
            if key in self.sub_workflows:
                self.workflow(self.sub_workflows[key])
            else:
                self.workflows[key] = (node_id, ref)


def _ids(found: dict[str, tuple[str, Any]]) -> list[Any]:
    return sorted((ref for _, ref in found.values()), key=_sort_key)


def required_references(
    primary: workflow_pb2.WorkflowTemplate, sub_workflows: Sequence[workflow_pb2.WorkflowTemplate]
) -> References:
    """Tasks, launch plans and (not provided) sub-workflows the primary workflow refers to, transitively."""
    walker = _ReferenceWalker({id_key(wf.id): wf for wf in sub_workflows})
    walker.workflow(primary)
    return References(
        task_ids=_ids(walker.tasks),
        launch_plan_ids=_ids(walker.launch_plans),
        workflow_ids=_ids(walker.workflows),
    )


def compile_tasks(tasks: Sequence[tasks_pb2.TaskTemplate]) -> list[compiler_pb2.CompiledTask]:
    """Validate task templates and wrap them as CompiledTask (Flyte's CompileTask); raises CompileErrors."""
    errs = e.ErrorCollector()
    compiled = []
    for task in tasks:
        validate_task(task, errs.scope())
        compiled.append(compiler_pb2.CompiledTask(template=task))
    errs.raise_if_any()
    return compiled


def _index_sub_workflows(sub_workflows: Sequence[Any], errs: e.ErrorCollector) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for template in sub_workflows:
        if not template.HasField("id"):
            errs.collect(e.value_required("root", "sub_workflows.id"))
            continue
        key = id_key(template.id)
        if key in index:
            errs.collect(e.duplicate_node_id(id_str(template.id)))
            continue
        index[key] = new_compiled_workflow(template)
    return index


def _index_tasks(tasks: Sequence[Any], errs: e.ErrorCollector) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for task in tasks:
        if not task.HasField("id"):
            errs.collect(e.value_required("task", "Template.Id"))
            continue
        index.setdefault(id_key(task.id), task)
    return index


def _check_requirements(primary: Any, ctx: CompileContext, errs: e.ErrorCollector) -> None:
    walker = _ReferenceWalker({key: wf.template for key, wf in ctx.sub_workflows.items()})
    walker.workflow(primary)
    # Flyte names start-node for missing tasks and launch plans; naming the referring node is more useful.
    for _, (node_id, ref) in sorted(walker.workflows.items()):
        errs.collect(e.workflow_reference_not_found(node_id, id_str(ref)))
    for key, (node_id, ref) in sorted(walker.launch_plans.items()):
        if key not in ctx.launch_plans:
            errs.collect(e.workflow_reference_not_found(node_id, id_str(ref)))
    for key, (node_id, ref) in sorted(walker.tasks.items()):
        if key not in ctx.tasks:
            errs.collect(e.task_reference_not_found(node_id, id_str(ref)))


def compile_workflow(
    primary: workflow_pb2.WorkflowTemplate,
    sub_workflows: Sequence[workflow_pb2.WorkflowTemplate],
    tasks: Sequence[tasks_pb2.TaskTemplate],
    launch_plans: Sequence[LaunchPlanInterface] = (),
) -> compiler_pb2.CompiledWorkflowClosure:
    """Compile a workflow into Flyte's CompiledWorkflowClosure; raises CompileErrors listing every problem.

    The closure holds the compiled primary (with start-node/end-node and connections), every provided
    sub-workflow (compiled when referenced, as Flyte does) and every provided task. Inputs are not mutated.
    """
    errs = e.ErrorCollector()
    ctx = CompileContext(
        tasks=_index_tasks(tasks, errs),
        launch_plans={id_key(lp.id): lp for lp in launch_plans},
        sub_workflows=_index_sub_workflows(sub_workflows, errs),
    )
    errs.raise_if_any()
    _check_requirements(primary, ctx, errs)
    errs.raise_if_any()
    compiled_primary = new_compiled_workflow(primary)
    compile_into(ctx, compiled_primary, errs)
    errs.raise_if_any()
    closure = compiler_pb2.CompiledWorkflowClosure(primary=compiled_primary)
    closure.sub_workflows.extend(ctx.sub_workflows.values())
    closure.tasks.extend(compiler_pb2.CompiledTask(template=task) for task in ctx.tasks.values())
    return closure


def dynamic_workflow_template(
    job: dynamic_job_pb2.DynamicJobSpec,
    interface: interface_pb2.TypedInterface,
    workflow_id: identifier_pb2.Identifier,
) -> workflow_pb2.WorkflowTemplate:
    """The WorkflowTemplate propeller builds from a dynamic task's DynamicJobSpec (Flyte's
    buildDynamicWorkflowTemplate): the job's nodes and outputs under the parent task's interface."""
    template = workflow_pb2.WorkflowTemplate(nodes=job.nodes, outputs=job.outputs, interface=interface)
    template.id.CopyFrom(workflow_id)
    template.id.resource_type = identifier_pb2.ResourceType.WORKFLOW
    return template


def compile_dynamic_job(
    job: dynamic_job_pb2.DynamicJobSpec,
    interface: interface_pb2.TypedInterface,
    workflow_id: identifier_pb2.Identifier,
    launch_plans: Sequence[LaunchPlanInterface] = (),
) -> compiler_pb2.CompiledWorkflowClosure:
    """Compile what a dynamic task returned; its sub-workflows and tasks come with the job spec."""
    template = dynamic_workflow_template(job, interface, workflow_id)
    return compile_workflow(template, list(job.subworkflows), list(job.tasks), launch_plans)
