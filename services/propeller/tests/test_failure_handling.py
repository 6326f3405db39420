"""Retries (user and system), timeouts, the workflow failure policy, abort, max parallelism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import compiler_pb2, execution_pb2, workflow_pb2

from aloft_db import DatabaseConfig
from aloft_propeller.plugins.base import ErrorKind, ExecutionError
from aloft_propeller.server import run_migrations

WF = execution_pb2.WorkflowExecution
NODE = execution_pb2.NodeExecution
TASK = execution_pb2.TaskExecution


def _task_retries(name: str, retries: int) -> Any:
    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        for task in closure.tasks:
            if task.template.id.name.endswith("." + name):
                task.template.metadata.retries.retries = retries

    return mutate


def _script(stack: Any, name: str, attempt: int, **kwargs: Any) -> None:
    from importlib import import_module

    scripted = import_module(type(stack.plugin).__module__).Scripted
    stack.plugin.script[(name, attempt)] = scripted(**kwargs)


def _attempts(status: dataplane_pb2.ExecutionStatus, node_id: str) -> int:
    return next(n for n in status.nodes if n.node_id == node_id).attempts


RECOVERABLE = ExecutionError("USER:Recoverable", "flaky", ErrorKind.USER)
SYSTEM = ExecutionError("SYSTEM:Lost", "pod lost", ErrorKind.SYSTEM)


async def test_recoverable_user_error_is_retried_within_task_retries(stack: Any) -> None:
    _script(stack, "double", 0, error=RECOVERABLE)
    execution_id = await stack.create("chain", {"x": 1}, mutate=_task_retries("double", 1))
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": "4"}
    assert _attempts(status, "n1") == 2
    attempts = {e.retry_attempt for e in stack.admin.task_events if e.parent_node_execution_id.node_id == "n1"}
    assert attempts == {0, 1}
    first = [
        e.phase for e in stack.admin.task_events if e.parent_node_execution_id.node_id == "n1" and e.retry_attempt == 0
    ]
    assert first[-1] == TASK.RETRYABLE_FAILED
    starts = [s for s in stack.plugin.starts() if s.startswith(execution_id.name)]
    assert sorted(starts) == sorted({*starts}) and len(starts) == 4  # n0, n1 twice, n2 — each attempt once


async def test_user_error_without_retries_left_fails(stack: Any) -> None:
    _script(stack, "double", 0, error=RECOVERABLE)
    execution_id = await stack.create("chain", {"x": 1})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED and status.error.message == "flaky"
    assert _attempts(status, "n1") == 1
    assert stack.admin.node_phases(execution_id.name, "n2") == []


async def test_system_errors_use_system_retries_then_fail(stack: Any) -> None:
    for attempt in range(3):
        _script(stack, "add_one", attempt, error=SYSTEM)
    execution_id = await stack.create("chain", {"x": 1})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert status.error.kind == execution_pb2.ExecutionError.SYSTEM
    node = next(n for n in status.nodes if n.node_id == "n0")
    assert node.attempts == 3 and node.system_failures == 2  # max-node-retries-for-system-failures: 2


async def test_system_error_then_success(stack: Any) -> None:
    _script(stack, "add_one", 0, error=SYSTEM)
    execution_id = await stack.create("chain", {"x": 1})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED and _attempts(status, "n0") == 2


async def test_permanent_failure_is_not_retried(stack: Any) -> None:
    _script(stack, "add_one", 0, error=RECOVERABLE, retryable=False)
    execution_id = await stack.create("chain", {"x": 1}, mutate=_task_retries("add_one", 3))
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED and _attempts(status, "n0") == 1


async def test_task_timeout_times_out_the_node(stack: Any) -> None:
    stack.plugin.durations["add_one"] = 600.0

    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        for task in closure.tasks:
            if task.template.id.name.endswith(".add_one"):
                task.template.metadata.timeout.FromMilliseconds(300)

    execution_id = await stack.create("chain", {"x": 1}, mutate=mutate)
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert status.error.code == "Timeout"
    assert stack.admin.node_phases(execution_id.name, "n0")[-1] == NODE.TIMED_OUT
    assert any(uid.startswith(f"{execution_id.name}-n0-0") for uid in stack.plugin.aborted())


def _policy(policy: int) -> Any:
    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        closure.primary.template.metadata.on_failure = policy  # type: ignore[assignment]

    return mutate


async def test_fail_immediately_aborts_running_siblings(stack: Any) -> None:
    # dataclass_wf: n0 make_point → (n1 use_x, n2 use_point) in parallel.
    _script(stack, "use_x", 0, error=RECOVERABLE, retryable=False)
    stack.plugin.durations["use_point"] = 600.0
    execution_id = await stack.create(
        "dataclass", {"x": 1}, mutate=_policy(workflow_pb2.WorkflowMetadata.FAIL_IMMEDIATELY)
    )
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert next(n for n in status.nodes if n.node_id == "n2").phase == NODE.ABORTED
    assert any(uid.startswith(f"{execution_id.name}-n2-0") for uid in stack.plugin.aborted())


async def test_fail_after_executable_nodes_complete_lets_siblings_finish(stack: Any) -> None:
    _script(stack, "use_x", 0, error=RECOVERABLE, retryable=False)
    _script(stack, "use_point", 0, duration=0.3)
    policy = workflow_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    execution_id = await stack.create("dataclass", {"x": 1}, mutate=_policy(policy))
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert next(n for n in status.nodes if n.node_id == "n2").phase == NODE.SUCCEEDED


async def test_abort_kills_running_attempt_and_ends_aborted(stack: Any) -> None:
    stack.plugin.durations["add_one"] = 600.0
    execution_id = await stack.create("chain", {"x": 1})
    while not stack.plugin.active:
        await _tick()
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=execution_id, cause="stop it"))
    status = await stack.wait(execution_id)
    assert status.phase == WF.ABORTED and status.abort_cause == "stop it"
    assert stack.plugin.aborted() == [f"{execution_id.name}-n0-0"]
    assert stack.admin.node_phases(execution_id.name, "n0")[-1] == NODE.ABORTED
    task_phases = [
        e.phase for e in stack.admin.task_events if e.parent_node_execution_id.execution_id.name == execution_id.name
    ]
    assert task_phases[-1] == TASK.ABORTED
    # Aborting again (or a finished execution) is a no-op.
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=execution_id, cause="again"))
    assert (await stack.status(execution_id)).abort_cause == "stop it"


async def test_max_parallelism_bounds_running_tasks(stack: Any) -> None:
    stack.plugin.durations.update({"use_x": 0.2, "use_point": 0.2})
    execution_id = await stack.create("dataclass", {"x": 2}, max_parallelism=1)
    assert (await stack.wait(execution_id)).phase == WF.SUCCEEDED
    assert stack.plugin.max_active == 1


async def test_unbounded_parallelism_runs_siblings_together(stack: Any) -> None:
    stack.plugin.durations.update({"use_x": 0.5, "use_point": 0.5})
    execution_id = await stack.create("dataclass", {"x": 2})
    assert (await stack.wait(execution_id)).phase == WF.SUCCEEDED
    assert stack.plugin.max_active == 2


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.02)


async def test_recover_reuses_succeeded_nodes_and_reruns_the_rest(stack: Any) -> None:
    _script(stack, "double", 0, error=RECOVERABLE, retryable=False)
    original = await stack.create("chain", {"x": 4})
    assert (await stack.wait(original)).phase == WF.FAILED
    stack.plugin.script.clear()
    recovered = await stack.create("chain", {"x": 4}, recover_from=original)
    status = await stack.wait(recovered)
    assert status.phase == WF.SUCCEEDED
    assert await stack.outputs(recovered) == {"o0": "10"}
    assert stack.admin.node_phases(recovered.name, "n0") == [NODE.RECOVERED]
    assert stack.admin.node_phases(recovered.name, "n1") == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED]
    started = [uid for uid in stack.plugin.starts() if uid.startswith(recovered.name)]
    assert sorted(started) == [f"{recovered.name}-n1-0", f"{recovered.name}-n2-0"]


async def test_recover_from_another_data_plane_uses_admins_node_executions(stack: Any, tmp_path: Path) -> None:
    _script(stack, "double", 0, error=RECOVERABLE, retryable=False)
    original = await stack.create("chain", {"x": 4})
    assert (await stack.wait(original)).phase == WF.FAILED
    stack.plugin.script.clear()
    # Another data plane: same admin, but a workflow store that never held the original.
    await stack.stop()
    stack.config = stack.config.model_copy(
        update={"database": DatabaseConfig(url=f"sqlite:///{tmp_path / 'other-plane.db'}")}
    )
    run_migrations(stack.config)
    await stack.start()
    stack.admin.blobs = stack.blobs
    recovered = await stack.create("chain", {"x": 4}, recover_from=original)
    assert (await stack.wait(recovered)).phase == WF.SUCCEEDED
    assert await stack.outputs(recovered) == {"o0": "10"}
    assert stack.admin.node_phases(recovered.name, "n0") == [NODE.RECOVERED]  # from admin's record, not re-run
    started = [uid for uid in stack.plugin.starts() if uid.startswith(recovered.name)]
    assert sorted(started) == [f"{recovered.name}-n1-0", f"{recovered.name}-n2-0"]


async def test_recover_from_an_execution_nobody_knows_runs_every_node(stack: Any) -> None:
    original = stack.execution_id("ran-elsewhere")
    stack.admin.blobs = stack.blobs
    recovered = await stack.create("chain", {"x": 4}, recover_from=original)
    # admin knows no such execution (NOT_FOUND): every node runs, as flytepropeller does.
    assert (await stack.wait(recovered)).phase == WF.SUCCEEDED
    started = [uid for uid in stack.plugin.starts() if uid.startswith(recovered.name)]
    assert len(started) == 3


async def test_task_timeout_is_per_attempt_and_retried(stack: Any) -> None:
    _script(stack, "add_one", 0, duration=600.0)

    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        _task_retries("add_one", 1)(closure)
        for task in closure.tasks:
            if task.template.id.name.endswith(".add_one"):
                task.template.metadata.timeout.FromMilliseconds(300)

    execution_id = await stack.create("chain", {"x": 1}, mutate=mutate)
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED and _attempts(status, "n0") == 2
    assert stack.plugin.aborted() == [f"{execution_id.name}-n0-0"]


async def test_node_timeout_is_a_deadline_for_all_attempts(stack: Any) -> None:
    stack.plugin.durations["add_one"] = 600.0

    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        _task_retries("add_one", 3)(closure)
        node = next(n for n in closure.primary.template.nodes if n.id == "n0")
        node.metadata.timeout.FromMilliseconds(300)

    execution_id = await stack.create("chain", {"x": 1}, mutate=mutate)
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED and "exceeded its timeout" in status.error.message
    assert _attempts(status, "n0") == 1
    assert stack.admin.node_phases(execution_id.name, "n0")[-1] == NODE.TIMED_OUT
