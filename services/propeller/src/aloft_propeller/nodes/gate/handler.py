"""Gate nodes (flytepropeller nodes/gate/handler.go): ``sleep`` succeeds once its duration has passed since the
attempt started; ``signal`` (flytekit ``wait_for_input``) waits for a typed value set through admin's SignalService
and outputs it as ``output_variable_name``; ``approve`` waits for a boolean signal: true passes the node's inputs
through as its outputs, false fails the node. A gate's ``timeout`` is the node's metadata timeout, which the node
executor enforces (the node fails TIMED_OUT)."""

from __future__ import annotations

from flyteidl.core import identifier_pb2, literals_pb2, types_pb2, workflow_pb2

from aloft_propeller import paths
from aloft_propeller.execution_error import ErrorKind
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, NodeContext, PlainNodeHandler
from aloft_propeller.nodes.gate.signals import SignalClient, SignalRejected

_BOOLEAN = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)


def _boolean(literal: literals_pb2.Literal) -> bool | None:
    if literal.WhichOneof("value") != "scalar" or literal.scalar.WhichOneof("value") != "primitive":
        return None
    if literal.scalar.primitive.WhichOneof("value") != "boolean":
        return None
    return literal.scalar.primitive.boolean


class GateNodeHandler(PlainNodeHandler):
    def __init__(self, signals: SignalClient) -> None:
        self._signals = signals

    async def handle(self, ctx: NodeContext) -> HandlerTransition:
        gate = ctx.node.gate_node
        condition = gate.WhichOneof("condition")
        try:
            if condition == "sleep":
                return self._sleep(ctx, gate.sleep)
            if condition == "signal":
                return await self._signal(ctx, gate.signal)
            if condition == "approve":
                return await self._approve(ctx, gate.approve)
        except SignalRejected as exc:
            return HandlerTransition.failure("SignalRejected", f"[{ctx.node.id}] {exc}", ErrorKind.SYSTEM)
        message = f"[{ctx.node.id}] gate node has no supported condition (sleep, signal or approve)"
        return HandlerTransition.failure("BadSpecificationError", message, ErrorKind.SYSTEM)

    def _sleep(self, ctx: NodeContext, sleep: workflow_pb2.SleepCondition) -> HandlerTransition:
        started = ctx.state.attempt_started_at
        if started is None:
            return HandlerTransition.running()  # the executor stamps the attempt's start after this first round
        if ctx.execution.now - started >= sleep.duration.ToTimedelta().total_seconds():
            return HandlerTransition(HandlerPhase.SUCCESS)
        return HandlerTransition.running()

    async def _signal(self, ctx: NodeContext, signal: workflow_pb2.SignalCondition) -> HandlerTransition:
        value = await self._signals.get_or_create(self._signal_id(ctx, signal.signal_id), signal.type)
        if value is None:
            return HandlerTransition.running()
        outputs = literals_pb2.LiteralMap()
        outputs.literals[signal.output_variable_name].CopyFrom(value)
        return HandlerTransition(HandlerPhase.SUCCESS, outputs_uri=await self._write(ctx, outputs))

    async def _approve(self, ctx: NodeContext, approve: workflow_pb2.ApproveCondition) -> HandlerTransition:
        value = await self._signals.get_or_create(self._signal_id(ctx, approve.signal_id), _BOOLEAN)
        if value is None:
            return HandlerTransition.running()
        approved = _boolean(value)
        if approved is None:
            message = f"[{ctx.node.id}] approve signal {approve.signal_id!r} has a non-boolean value"
            return HandlerTransition.failure("RuntimeExecutionError", message, ErrorKind.USER)
        if not approved:
            message = f"[{ctx.node.id}] received a reject signal {approve.signal_id!r} for the node's input values"
            return HandlerTransition.failure("ReceivedRejectSignal", message)
        return HandlerTransition(HandlerPhase.SUCCESS, outputs_uri=await self._write(ctx, ctx.inputs))

    @staticmethod
    def _signal_id(ctx: NodeContext, signal_id: str) -> identifier_pb2.SignalIdentifier:
        return identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=ctx.execution.execution_id)

    @staticmethod
    async def _write(ctx: NodeContext, outputs: literals_pb2.LiteralMap) -> str:
        uri = paths.outputs_uri(ctx.attempt_dir())
        await ctx.literals.write_literal_map(uri, outputs)
        return uri

    async def abort(self, ctx: NodeContext, reason: str) -> None:
        return None  # nothing runs behind a gate
