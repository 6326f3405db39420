"""Byte-for-byte agreement with Flyte's Go compiler on Flyte's own test workflows (see fixtures/flyte_v1.16.8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.core import compiler_pb2, dynamic_job_pb2, types_pb2, workflow_closure_pb2, workflow_pb2
from google.protobuf import text_format

from aloft_compiler import compile_workflow, required_references

GOLDEN = Path(__file__).parent / "fixtures" / "flyte_v1.16.8"
CASES = sorted(p.name.removesuffix(".input.pb") for p in GOLDEN.glob("*.input.pb"))


def _diff_hint(expected: object, actual: object) -> str:
    expected_lines = text_format.MessageToString(expected).splitlines()  # type: ignore[arg-type]
    actual_lines = text_format.MessageToString(actual).splitlines()  # type: ignore[arg-type]
    for index, (want, got) in enumerate(zip(expected_lines, actual_lines, strict=False)):
        if want != got:
            return f"first difference at line {index}: expected {want!r}, got {got!r}"
    return f"lengths differ: {len(expected_lines)} vs {len(actual_lines)} lines"


@pytest.mark.parametrize("case", CASES)
def test_compiled_primary_equals_flytes(case: str) -> None:
    source = workflow_closure_pb2.WorkflowClosure()
    source.ParseFromString((GOLDEN / f"{case}.input.pb").read_bytes())
    expected = compiler_pb2.CompiledWorkflowClosure()
    expected.ParseFromString((GOLDEN / f"{case}.compiled.pb").read_bytes())
    # Flyte's test passed these tasks (default fields filled in); the closure lists every task it was given.
    tasks = [t.template for t in expected.tasks]
    provided = {t.id.SerializeToString(deterministic=True) for t in tasks}
    for task_id in required_references(source.workflow, []).task_ids:
        assert task_id.SerializeToString(deterministic=True) in provided

    closure = compile_workflow(source.workflow, [], tasks)

    assert closure.primary == expected.primary, _diff_hint(expected.primary, closure.primary)
    assert sorted(t.template.id.name for t in closure.tasks) == sorted(t.template.id.name for t in expected.tasks)


def test_flytes_dynamic_job_compiles_with_its_sub_workflow() -> None:
    job = dynamic_job_pb2.DynamicJobSpec()
    job.ParseFromString((GOLDEN / "dynamic-success_1.job.pb").read_bytes())
    template = workflow_pb2.WorkflowTemplate(nodes=job.nodes, outputs=job.outputs)
    template.id.domain, template.id.name, template.id.version = "domain", "name", "version"
    template.interface.inputs.SetInParent()
    template.interface.outputs.variables["o0"].type.collection_type.simple = types_pb2.SimpleType.INTEGER

    closure = compile_workflow(template, list(job.subworkflows), list(job.tasks))

    (sub,) = closure.sub_workflows
    assert [n.id for n in sub.template.nodes][:2] == ["start-node", "end-node"]
    assert len(closure.primary.template.nodes) == 2 + len(job.nodes)
