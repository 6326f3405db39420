"""Gate nodes against propeller's real service and a fake admin whose SignalService (a real in-process gRPC
servicer) records GetOrCreateSignal and lets the test set values, as ``SetSignal`` would.

The ``gates`` closure (serialized by real flytekit): n0 sleep 5s (shortened here), n1 wait_for_input("extra", int),
n2 add_one after the sleep, n3 approve(n2, "approve-a"), n4 sum_list([n3, n1]).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from flyteidl.core import compiler_pb2, execution_pb2, literals_pb2, types_pb2

_PHASE = execution_pb2.WorkflowExecution


def _literal(value: int | bool) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    if isinstance(value, bool):
        literal.scalar.primitive.boolean = value
    else:
        literal.scalar.primitive.integer = value
    return literal


def _shorten_sleep(seconds: int) -> Any:
    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        for node in closure.primary.template.nodes:
            if node.gate_node.HasField("sleep"):
                node.gate_node.sleep.duration.seconds = seconds

    return mutate


def _gate_timeout(node_id: str, seconds: int) -> Any:
    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        _shorten_sleep(0)(closure)
        for node in closure.primary.template.nodes:
            if node.id == node_id:
                node.metadata.timeout.FromSeconds(seconds)

    return mutate


async def _signal_created(stack: Any, execution: str, signal_id: str, deadline: float = 30.0) -> Any:
    give_up = time.monotonic() + deadline
    while (execution, signal_id) not in stack.admin.signals.signals:
        assert time.monotonic() < give_up, f"signal {signal_id} was never created"
        await asyncio.sleep(0.05)
    return stack.admin.signals.signals[(execution, signal_id)]


async def _node_reached(stack: Any, execution: str, node: str, phase: int, deadline: float = 30.0) -> None:
    """Events reach admin asynchronously (outbox delivery), so wait for the phase rather than expect it already."""
    give_up = time.monotonic() + deadline
    while phase not in stack.admin.node_phases(execution, node):
        assert time.monotonic() < give_up, f"node {node} never reported phase {phase}"
        await asyncio.sleep(0.05)


async def test_sleep_signal_and_approve_gates_release_the_workflow(stack: Any) -> None:
    execution_id = await stack.create("gates", {"x": 4}, name="gates-ok", mutate=_shorten_sleep(1))
    extra = await _signal_created(stack, "gates-ok", "extra")
    assert extra.type == types_pb2.LiteralType(simple=types_pb2.INTEGER)
    assert extra.id.execution_id == execution_id
    approve = await _signal_created(stack, "gates-ok", "approve-a")  # after the 1s sleep and add_one
    assert approve.type == types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
    await _node_reached(stack, "gates-ok", "n0", execution_pb2.NodeExecution.SUCCEEDED)

    await asyncio.sleep(0.5)
    assert (await stack.status(execution_id)).phase == _PHASE.RUNNING  # both gates still closed
    stack.admin.signals.set("gates-ok", "extra", _literal(10))
    stack.admin.signals.set("gates-ok", "approve-a", _literal(True))
    status = await stack.wait(execution_id)
    assert status.phase == _PHASE.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": (4 + 1) + 10}


async def test_a_rejected_approval_fails_the_workflow(stack: Any) -> None:
    execution_id = await stack.create("gates", {"x": 1}, name="gates-reject", mutate=_shorten_sleep(0))
    await _signal_created(stack, "gates-reject", "approve-a")
    stack.admin.signals.set("gates-reject", "approve-a", _literal(False))
    status = await stack.wait(execution_id)
    assert status.phase == _PHASE.FAILED
    assert status.error.code == "ReceivedRejectSignal"
    await _node_reached(stack, "gates-reject", "n3", execution_pb2.NodeExecution.FAILED)


async def test_a_gate_that_times_out_fails_the_node(stack: Any) -> None:
    execution_id = await stack.create("gates", {"x": 1}, name="gates-timeout", mutate=_gate_timeout("n1", 1))
    await _signal_created(stack, "gates-timeout", "extra")
    status = await stack.wait(execution_id)
    assert status.phase == _PHASE.FAILED
    assert status.error.code == "Timeout"
    await _node_reached(stack, "gates-timeout", "n1", execution_pb2.NodeExecution.TIMED_OUT)


async def test_a_signal_of_the_wrong_type_for_approve_fails_clearly(stack: Any) -> None:
    execution_id = await stack.create("gates", {"x": 1}, name="gates-badvalue", mutate=_shorten_sleep(0))
    await _signal_created(stack, "gates-badvalue", "approve-a")
    stack.admin.signals.set("gates-badvalue", "approve-a", _literal(7))
    status = await stack.wait(execution_id)
    assert status.phase == _PHASE.FAILED
    assert "non-boolean" in status.error.message
