"""Array (map) nodes (flytepropeller nodes/array/handler.go).

Each input element gets a task sub-node with its own attempts and retries, run through the task node handler (so
plugins and caching behave exactly as for a task node). Sub-node status is the compact ``ArrayState`` kept in the
array node's ``plugin_state``. Per round: step running sub-nodes, start new ones up to the parallelism, fail fast
once ``min_successes`` cannot be reached (unless ``run_all_sub_nodes``), gather outputs in order when all are done.
One task event per round that changed something carries the sub-tasks that changed in it as external resources
(index, retry attempt, phase, logs), as Flyte's array event recorder does; admin merges them by (index, retry
attempt) into what flytekit's ``sync_execution(sync_nodes=True)`` lists for a map task.

Which elements a round steps (``_Elements``, kept in the round's frontier for the record version it evaluated):
after a full step (the first round, a restart, any round that walks the workflow in full) only the elements whose
process exited (woken by name), running elements whose poll is due (every visit, unless their plugin wakes them:
then every 0.25 s as a fallback) and, in order, elements waiting for resources and new ones, in growing batches
until one stays waiting. A round costs what changed, not the array's size.

flytekit map tasks (``is_original_sub_node_interface`` false) read the whole array's inputs.pb and pick their
element from ``FLYTE_K8S_ARRAY_INDEX``; other sub-nodes get their own single-element inputs.pb, written only when a
process reads it (plugins get the element's inputs in memory; see ``InputsBlob.PENDING``).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import heapq
import math
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2
from flyteidl.event import event_pb2

from aloft_propeller import paths
from aloft_propeller.events import builders
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.nodes import attempts
from aloft_propeller.nodes.array.failures import attach_error
from aloft_propeller.nodes.array.failures import summary as failures_summary
from aloft_propeller.nodes.array.inputs import array_size, element_inputs, gather_outputs
from aloft_propeller.nodes.array.state import ArrayState, SubPhase
from aloft_propeller.nodes.base import (
    HandlerPhase,
    HandlerTransition,
    InputsBlob,
    NodeContext,
    NodeHandler,
    NodeTraits,
    PlainNodeHandler,
)
from aloft_propeller.nodes.errors import NodeError
from aloft_propeller.nodes.frontier import FIRST_POLL_SECONDS, POLL_BACKOFF, WOKEN_POLL_SECONDS
from aloft_propeller.plugins.base import Phase
from aloft_propeller.state import NodePhase, NodeState
from aloft_storage import BlobNotFound

ARRAY_INDEX_VAR = "FLYTE_K8S_ARRAY_INDEX"


class UnsupportedArrayError(NodeError):
    code = "UnsupportedArrayNode"


_CONCURRENCY = 64  # sub-nodes handled at once within a round (plugin calls are mostly blob-store I/O)

_SUB_TASK_PHASES = {
    SubPhase.SUCCEEDED: execution_pb2.TaskExecution.SUCCEEDED,
    SubPhase.FAILED: execution_pb2.TaskExecution.FAILED,
    SubPhase.ABORTED: execution_pb2.TaskExecution.ABORTED,
}


def _min_successes(ctx: NodeContext, size: int) -> int:
    array = ctx.node.array_node
    criteria = array.WhichOneof("success_criteria")
    if criteria == "min_successes":
        return min(array.min_successes, size)
    if criteria == "min_success_ratio":
        return min(math.ceil(round(size * array.min_success_ratio, 6)), size)
    return size


@dataclasses.dataclass
class _Elements:
    """An array node's evaluation between rounds of one record version (in the round's frontier): its decoded
    state (valid while the node's plugin state is the one it answered with) and what each element waits for."""

    encoded: str  # the plugin_state_b64 the state was last answered with ("" while a round works on it)
    state: ArrayState
    polls: dict[int, tuple[float, int]] = dataclasses.field(default_factory=dict)  # running → (due, idle visits)
    blocked: list[int] = dataclasses.field(default_factory=list)  # heap: elements waiting for resources
    next_new: int = 0  # no element before it is NOT_STARTED (elements start in order)
    fresh: bool = True  # nothing tracked yet: the next round steps every element


def _parallelism(ctx: NodeContext) -> int:
    """0 = unbounded; an unset or zero parallelism falls back to the execution's max parallelism."""
    array = ctx.node.array_node
    if array.WhichOneof("parallelism_option") and array.parallelism > 0:
        return array.parallelism
    return max(ctx.execution.request.config.max_parallelism, 0)


class ArrayNodeHandler(PlainNodeHandler):
    def __init__(self, task_handler: NodeHandler) -> None:
        self._task = task_handler

    def describe(self, ctx: NodeContext) -> NodeTraits:
        return NodeTraits(is_array=True)

    async def handle(self, ctx: NodeContext) -> HandlerTransition:
        target = ctx.node.array_node.node.WhichOneof("target")
        if target != "task_node":
            raise UnsupportedArrayError(ctx.node.id, f"array nodes over {target or 'nothing'} are not supported yet")
        memory = self._memory(ctx)
        state = memory.state if memory is not None else self._decode(ctx)
        transition = await self._round(ctx, state, memory)
        frontier = ctx.execution.frontier
        if frontier is not None and transition.phase != HandlerPhase.RUNNING:
            frontier.nested.pop(f"array:{ctx.path}", None)  # finished: nothing to keep
        elif memory is not None and transition.plugin_state is not None:
            memory.encoded = base64.b64encode(transition.plugin_state).decode()
        return transition

    async def _round(self, ctx: NodeContext, state: ArrayState, memory: _Elements | None) -> HandlerTransition:
        if state.size == 0:
            return await self._succeed(ctx, state, set())
        changed = await self._step_round(ctx, state, memory)
        succeeded, failed = state.count(SubPhase.SUCCEEDED), state.count(SubPhase.FAILED)
        needed = _min_successes(ctx, state.size)
        hopeless = state.size - failed < needed
        if hopeless and (not ctx.node.array_node.run_all_sub_nodes or state.all_terminal()):
            changed |= await self._abort_running(ctx, state, "array node cannot reach its minimum successes")
            return self._fail(ctx, state, succeeded, failed, needed, changed)
        if state.all_terminal():
            return await self._succeed(ctx, state, changed)
        events = self._event(ctx, state, execution_pb2.TaskExecution.RUNNING, changed)
        return HandlerTransition(HandlerPhase.RUNNING, plugin_state=state.encode(), task_events=events)

    @staticmethod
    def _decode(ctx: NodeContext) -> ArrayState:
        state = ArrayState.decode(ctx.state.plugin_state)
        if state is None:
            state = ArrayState.new(array_size(ctx.node.id, ctx.node.array_node, ctx.inputs))
        return state

    def _memory(self, ctx: NodeContext) -> _Elements | None:
        """The node's evaluation kept from the last round of this record version; a new one (stepping every
        element) when there is none, the round walks in full, or the stored state is not the one it answered."""
        frontier = ctx.execution.frontier
        if frontier is None:
            return None
        key = f"array:{ctx.path}"
        memory = frontier.nested.get(key)
        if not isinstance(memory, _Elements) or frontier.stats.full or memory.encoded != ctx.state.plugin_state_b64:
            memory = frontier.nested[key] = _Elements(encoded="", state=self._decode(ctx))
        memory.encoded = ""  # until this round answers: a failed round leaves nothing to reuse
        return memory

    async def abort(self, ctx: NodeContext, reason: str) -> None:
        state = ArrayState.decode(ctx.state.plugin_state)
        if state is None:
            return
        aborted = await self._abort_running(ctx, state, reason)
        # abort() has no transition to answer with: the ABORTED summary is recorded here.
        for event in self._event(ctx, state, execution_pb2.TaskExecution.ABORTED, aborted, force=True):
            ctx.events.task(event)

    # ---- sub-nodes -------------------------------------------------------------------------------------------

    @staticmethod
    def _indexes_to_step(ctx: NodeContext, state: ArrayState) -> list[int]:
        running = [i for i, phase in enumerate(state.phases) if phase == SubPhase.RUNNING]
        limit = _parallelism(ctx)
        free = state.size if limit == 0 else max(limit - len(running), 0)
        waiting = [i for i, phase in enumerate(state.phases) if phase == SubPhase.NOT_STARTED]
        return running + waiting[:free]

    async def _step_all(self, ctx: NodeContext, state: ArrayState, indexes: list[int]) -> set[int]:
        results = await _bounded(indexes, lambda index: self._step(ctx, state, index))
        return {index for index, changed in zip(indexes, results, strict=True) if changed}

    async def _step_round(self, ctx: NodeContext, state: ArrayState, memory: _Elements | None) -> set[int]:
        """Step the elements this round must (module doc); the indexes whose reported status changed."""
        template = self._sub_template(ctx)
        if memory is None:
            return await self._step_all(ctx, state, self._indexes_to_step(ctx, state))
        wakes = self._wakes(ctx, template)
        # An attempt timeout: every running attempt's deadline is looked at each round, as for task nodes.
        deadlines = template is not None and attempts.attempt_timeout(template) is not None
        if memory.fresh or deadlines:
            running = [i for i, phase in enumerate(state.phases) if phase == SubPhase.RUNNING]
            due = running if deadlines else [i for i in running if not self._waiting(state, i)]
            if memory.fresh:  # waiting elements wait for the same thing: tried in order below
                memory.polls, memory.next_new, memory.fresh = {}, 0, False
                memory.blocked = [] if deadlines else [i for i in running if self._waiting(state, i)]
        else:
            due = self._due(ctx, state, memory)
        changed = await self._step_all(ctx, state, due)
        self._track(ctx, state, memory, due, changed, wakes)
        return changed | await self._start_waiting(ctx, state, memory, wakes, set(due))

    def _due(self, ctx: NodeContext, state: ArrayState, memory: _Elements) -> list[int]:
        """Running elements woken by name (their process exited) or whose poll is due."""
        frontier = ctx.execution.frontier
        assert frontier is not None
        woken, poll_all = frontier.woken_below(paths.child_path(ctx.path, ctx.state.attempt, ""))
        now = ctx.execution.now
        due = {int(name) for name in woken if name.isdigit() and int(name) < state.size}
        due.update(index for index, (at, _) in memory.polls.items() if poll_all or at <= now)
        return sorted(index for index in due if state.phases[index] == SubPhase.RUNNING)

    async def _start_waiting(
        self, ctx: NodeContext, state: ArrayState, memory: _Elements, wakes: bool, stepped: set[int]
    ) -> set[int]:
        """Elements waiting for resources, then new ones (up to the parallelism), in order and in batches that
        double while every element of the last one got going; stops at the first that stays waiting. A new
        element is started (its inputs written, its plugin asked) only when its turn comes, not all at once."""
        limit = _parallelism(ctx)
        free = state.size if limit == 0 else max(limit - state.count(SubPhase.RUNNING), 0)
        candidates = self._candidates(state, memory, stepped)
        changed: set[int] = set()
        batch_size = 1
        while True:
            batch: list[int] = []
            for index in candidates:
                if state.phases[index] == SubPhase.NOT_STARTED:
                    if free <= 0:
                        memory.next_new = index  # its turn comes in a later round
                        break
                    free -= 1
                batch.append(index)
                if len(batch) >= batch_size:
                    break
            if not batch:
                break
            moved = await self._step_all(ctx, state, batch)
            self._track(ctx, state, memory, batch, moved, wakes)
            changed |= moved
            if any(self._waiting(state, index) for index in batch):
                break
            batch_size *= 2
        candidates.close()  # puts back what it held
        return changed

    def _candidates(self, state: ArrayState, memory: _Elements, stepped: set[int]) -> Generator[int, None, None]:
        """Waiting elements in order (not those stepped already this round), then new ones in order."""
        seen = set(stepped)
        later: list[int] = []
        try:
            while memory.blocked:
                index = heapq.heappop(memory.blocked)
                if index in stepped and self._waiting(state, index):
                    later.append(index)  # still waiting: tried again in a later round
                elif index not in seen and self._waiting(state, index):
                    seen.add(index)
                    yield index
        finally:
            for index in later:
                heapq.heappush(memory.blocked, index)
        while memory.next_new < state.size:
            try:
                index = state.phases.index(SubPhase.NOT_STARTED, memory.next_new)
            except ValueError:
                memory.next_new = state.size
                return
            memory.next_new = index + 1
            yield index

    @staticmethod
    def _waiting(state: ArrayState, index: int) -> bool:
        return state.phases[index] == SubPhase.RUNNING and state.task_phases[index] == Phase.WAITING_FOR_RESOURCES

    def _track(
        self,
        ctx: NodeContext,
        state: ArrayState,
        memory: _Elements,
        indexes: list[int],
        changed: set[int],
        wakes: bool,
    ) -> None:
        """What each stepped element waits for now: resources (tried in order), its poll, or nothing."""
        frontier = ctx.execution.frontier
        ceiling = frontier.poll_ceiling if frontier is not None else WOKEN_POLL_SECONDS
        now = ctx.execution.now
        for index in indexes:
            if state.phases[index] != SubPhase.RUNNING:
                memory.polls.pop(index, None)
                continue
            if self._waiting(state, index):
                memory.polls.pop(index, None)
                heapq.heappush(memory.blocked, index)
                continue
            if not wakes:
                memory.polls[index] = (now, 0)  # its plugin wakes nobody: asked on every visit, as before
                continue
            idle = 0 if index in changed else memory.polls.get(index, (0.0, 0))[1] + 1
            delay = 0.0 if index in changed else min(FIRST_POLL_SECONDS * POLL_BACKOFF ** (idle - 1), ceiling)
            if state.task_phases[index] == Phase.RUNNING:
                delay = max(delay, min(WOKEN_POLL_SECONDS, ceiling))
            memory.polls[index] = (now + delay, idle)

    @staticmethod
    def _sub_template(ctx: NodeContext) -> Any:
        sub = ctx.node.array_node.node
        if not sub.HasField("task_node"):
            return None
        try:
            return ctx.templates.task_template(sub.task_node.reference_id)
        except NodeError:
            return None

    @staticmethod
    def _wakes(ctx: NodeContext, template: Any) -> bool:
        """Whether the sub-task's plugin wakes an element's node when its attempt ends (local-process)."""
        if template is None:
            return False
        try:
            return bool(getattr(ctx.plugins.for_task_type(template.type), "wakes_nodes", False))
        except LookupError:
            return False

    async def _step(self, ctx: NodeContext, state: ArrayState, index: int) -> bool:
        """One sub-node's round; True when something an event reports (phase, attempt, plugin phase) changed."""
        before = (state.phases[index], state.attempts[index], state.task_phases[index])
        if state.phases[index] == SubPhase.NOT_STARTED:
            state.phases[index] = SubPhase.RUNNING
        # An attempt's clock starts at its first step (its launch), not when its retry was recorded: a late visit
        # must not time out an attempt that never ran.
        state.started_at.setdefault(str(index), ctx.execution.now)
        sub_ctx = self._sub_context(ctx, state, index)
        transition = await self._timed_out(ctx, sub_ctx, state, index) or await self._task.handle(sub_ctx)
        self._apply(ctx, state, index, transition)
        return before != (state.phases[index], state.attempts[index], state.task_phases[index])

    def _apply(self, ctx: NodeContext, state: ArrayState, index: int, transition: HandlerTransition) -> None:
        key = str(index)
        if transition.plugin_state is not None:
            holder = NodeState()
            holder.plugin_state = transition.plugin_state
            _set_sparse(state.plugin_states, key, holder.plugin_state_b64)
        if transition.task_node_metadata is not None and transition.task_node_metadata.cache_status:
            state.cache_statuses[key] = int(transition.task_node_metadata.cache_status)
        info = transition.task_info
        if info is not None:
            state.task_phases[index] = int(info.phase)
            if info.logs:
                state.logs[key] = [[log.name, log.uri] for log in info.logs]
        if transition.phase == HandlerPhase.SUCCESS:
            state.phases[index] = SubPhase.SUCCEEDED
            state.plugin_states.pop(key, None)
            return
        if transition.phase == HandlerPhase.RUNNING:
            return
        error = transition.error or ExecutionError("TaskFailed", "sub-task failed", ErrorKind.SYSTEM)
        state.errors[key] = [error.code, error.message, error.kind]
        state.plugin_states.pop(key, None)
        if transition.phase == HandlerPhase.RETRYABLE_FAILURE and self._take_retry(ctx, state, index, error):
            state.retried_attempts[f"{index}:{state.attempts[index]}"] = {
                "error": state.errors[key],
                "logs": state.logs.pop(key, []),
            }
            state.attempts[index] += 1
            state.task_phases[index] = int(Phase.UNDEFINED)
            state.started_at.pop(key, None)
            return
        state.phases[index] = SubPhase.FAILED

    async def _timed_out(
        self, ctx: NodeContext, sub_ctx: NodeContext, state: ArrayState, index: int
    ) -> HandlerTransition | None:
        """The task's timeout is per attempt (as for task nodes): abort the attempt, retry it if retries remain."""
        timeout = attempts.attempt_timeout(sub_ctx.task_template())
        if not attempts.attempt_expired(timeout, state.started_at.get(str(index)), ctx.execution.now):
            return None
        await self._task.abort(sub_ctx, f"timed out after {timeout}")
        message = f"sub-task {index} of [{ctx.node.id}] attempt {state.attempts[index]} timed out after {timeout}"
        return HandlerTransition(HandlerPhase.RETRYABLE_FAILURE, error=ExecutionError("Timeout", message))

    @staticmethod
    def _take_retry(ctx: NodeContext, state: ArrayState, index: int, error: ExecutionError) -> bool:
        sub = ctx.node.array_node.node
        template = ctx.templates.task_template(sub.task_node.reference_id) if sub.HasField("task_node") else None
        failures = attempts.retry_after(
            error,
            state.attempts[index],
            state.system_failures[index],
            attempts.user_retries(sub, template),
            ctx.max_system_retries,
        )
        if failures is None:
            return False
        state.system_failures[index] = failures
        return True

    def _sub_context(self, ctx: NodeContext, state: ArrayState, index: int) -> NodeContext:
        array = ctx.node.array_node
        path = self.sub_path(ctx, index)
        node_uri = paths.node_dir(ctx.execution.execution_uri, path)
        inputs = element_inputs(array, ctx.inputs, index)
        inputs_uri, inputs_blob = ctx.inputs_uri, InputsBlob.OTHER
        if array.is_original_sub_node_interface.value:
            # The element's own inputs.pb is written only for a process that reads it, when it is launched (a
            # restarted propeller's relaunch writes it again): plugins get the inputs in memory.
            inputs_uri, inputs_blob = paths.inputs_uri(node_uri), InputsBlob.PENDING
        sub_state = NodeState(
            phase=NodePhase.RUNNING,
            kind="task",
            attempt=state.attempts[index],
            system_failures=state.system_failures[index],
            plugin_state_b64=state.plugin_states.get(str(index), ""),
            plugin_phase=state.task_phases[index],
        )
        envs = {"BATCH_JOB_ARRAY_INDEX_VAR_NAME": ARRAY_INDEX_VAR, ARRAY_INDEX_VAR: str(index)}
        envs["BATCH_JOB_ARRAY_INDEX_OFFSET"] = "0"
        return dataclasses.replace(
            ctx,
            node=array.node,
            path=path,
            state=sub_state,
            inputs=inputs,
            inputs_uri=inputs_uri,
            node_uri=node_uri,
            task_envs=envs,
            inputs_blob=inputs_blob,
        )

    @staticmethod
    def sub_path(ctx: NodeContext, index: int) -> str:
        return paths.child_path(ctx.path, ctx.state.attempt, str(index))

    async def _abort_running(self, ctx: NodeContext, state: ArrayState, reason: str) -> set[int]:
        """Abort every running element; the indexes aborted."""
        running = [i for i, phase in enumerate(state.phases) if phase == SubPhase.RUNNING]

        async def abort(index: int) -> bool:
            await self._task.abort(self._sub_context(ctx, state, index), reason)
            state.phases[index] = SubPhase.ABORTED
            return True

        await _bounded(running, abort)
        return set(running)

    # ---- outcome ---------------------------------------------------------------------------------------------

    async def _succeed(self, ctx: NodeContext, state: ArrayState, changed: set[int]) -> HandlerTransition:
        names = list(self._output_names(ctx))

        async def read(index: int) -> literals_pb2.LiteralMap | None:
            if state.phases[index] != SubPhase.SUCCEEDED:
                return None
            uri = paths.outputs_uri(
                paths.attempt_dir(ctx.execution.execution_uri, self.sub_path(ctx, index), state.attempts[index])
            )
            try:
                return await ctx.blobs.read_proto(uri, literals_pb2.LiteralMap)
            except BlobNotFound:
                return literals_pb2.LiteralMap()

        # A sub-task without outputs (no-op containers): nothing to gather, no blob per element to look for.
        per_element = await _bounded(list(range(state.size)), read) if names else []
        uri = paths.outputs_uri(ctx.attempt_dir())
        await ctx.literals.write_literal_map(uri, gather_outputs(names, per_element))
        events = self._event(ctx, state, execution_pb2.TaskExecution.SUCCEEDED, changed, output_uri=uri, force=True)
        return HandlerTransition(HandlerPhase.SUCCESS, outputs_uri=uri, plugin_state=state.encode(), task_events=events)

    def _fail(
        self, ctx: NodeContext, state: ArrayState, succeeded: int, failed: int, needed: int, changed: set[int]
    ) -> HandlerTransition:
        """Fails with Flyte's summary of the failed sub-tasks' errors (``[1][3-4]: message``), kind of the first."""
        failures = [(i, state.errors.get(str(i))) for i, p in enumerate(state.phases) if p == SubPhase.FAILED]
        known = [(i, e) for i, e in failures if e]
        message = failures_summary((i, e[1]) for i, e in known) or (
            f"array node [{ctx.node.id}]: {failed} of {state.size} sub-tasks failed, {succeeded} succeeded, "
            f"{needed} successes required"
        )
        kind = ErrorKind(known[0][1][2]) if known else ErrorKind.USER
        error = ExecutionError("ArrayNodeFailed", message, kind)
        events = self._event(ctx, state, execution_pb2.TaskExecution.FAILED, changed, error=error, force=True)
        return HandlerTransition(
            HandlerPhase.PERMANENT_FAILURE, error=error, plugin_state=state.encode(), task_events=events
        )

    def _output_names(self, ctx: NodeContext) -> list[str]:
        sub = ctx.node.array_node.node
        if sub.WhichOneof("target") == "task_node":
            template = ctx.templates.task_template(sub.task_node.reference_id)
            return list(template.interface.outputs.variables)
        return []

    # ---- events ----------------------------------------------------------------------------------------------

    def _event(
        self,
        ctx: NodeContext,
        state: ArrayState,
        phase: execution_pb2.TaskExecution.Phase.ValueType,
        changed: set[int],
        output_uri: str = "",
        error: ExecutionError | None = None,
        force: bool = False,
    ) -> tuple[event_pb2.TaskExecutionEvent, ...]:
        """The round's task event with the elements that changed in it (none when nothing did), counted in
        ``state`` so versions stay ordered. Reported terminal elements are settled (their extras dropped) and
        retried attempts forgotten: the event is persisted with this state, in the same write."""
        quiet = not (changed or state.retried_attempts or force)
        if quiet and state.last_event and state.last_event[0] == phase:
            return ()
        state.event_version += 1
        state.last_event = [int(phase)]
        event = self._task_event(ctx, state, phase, sorted(changed), output_uri, error)
        state.retried_attempts.clear()
        for index in changed:
            if SubPhase(state.phases[index]).is_terminal:
                state.settle(index)
        return (event,)

    def _task_event(
        self,
        ctx: NodeContext,
        state: ArrayState,
        phase: execution_pb2.TaskExecution.Phase.ValueType,
        indexes: list[int],
        output_uri: str,
        error: ExecutionError | None,
    ) -> event_pb2.TaskExecutionEvent:
        ectx = ctx.execution
        sub = ctx.node.array_node.node
        task_id = identifier_pb2.Identifier()
        task_type = "array"
        if sub.WhichOneof("target") == "task_node":
            template = ctx.templates.task_template(sub.task_node.reference_id)
            task_id.CopyFrom(template.id)
            task_type = template.type
        event = event_pb2.TaskExecutionEvent(
            task_id=task_id,
            parent_node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                node_id=ctx.path, execution_id=ectx.execution_id
            ),
            retry_attempt=ctx.state.attempt,
            phase=phase,
            producer_id=ectx.producer_id,
            occurred_at=builders.timestamp(ectx.now),
            reported_at=builders.timestamp(ectx.now),
            input_uri=ctx.inputs_uri,
            phase_version=state.event_version,
            task_type=task_type,
            event_version=builders.EVENT_VERSION,
        )
        event.metadata.generated_name = paths.unique_attempt_id(ectx.key.name, ctx.path, ctx.state.attempt)
        event.metadata.plugin_identifier = "array"
        resources = [self._retried_resource(ctx, key, value) for key, value in state.retried_attempts.items()]
        for index in indexes:
            sub_phase = state.phases[index]
            if sub_phase == SubPhase.NOT_STARTED:
                continue
            resource = event_pb2.ExternalResourceInfo(
                external_id=paths.unique_attempt_id(ectx.key.name, self.sub_path(ctx, index), state.attempts[index]),
                index=index,
                retry_attempt=state.attempts[index],
                phase=_SUB_TASK_PHASES.get(
                    SubPhase(sub_phase), builders.TASK_PHASES.get(Phase(state.task_phases[index]), 0)
                ),
            )
            resource.cache_status = state.cache_statuses.get(str(index), 0)  # type: ignore[assignment]
            for name, uri in state.logs.get(str(index), []):
                resource.logs.add(name=name, uri=uri)
            if sub_phase == SubPhase.FAILED and str(index) in state.errors:
                attach_error(resource, _stored_error(state.errors[str(index)]))
            resources.append(resource)
        event.metadata.external_resources.extend(sorted(resources, key=lambda r: (r.index, r.retry_attempt)))
        if output_uri:
            event.output_uri = output_uri
        if error is not None:
            event.error.CopyFrom(builders.execution_error(error))
        return event

    def _retried_resource(self, ctx: NodeContext, key: str, retried: dict[str, Any]) -> event_pb2.ExternalResourceInfo:
        """A sub-task attempt that failed and was retried: RETRYABLE_FAILED, its logs and its error."""
        index, attempt = (int(part) for part in key.split(":"))
        resource = event_pb2.ExternalResourceInfo(
            external_id=paths.unique_attempt_id(ctx.execution.key.name, self.sub_path(ctx, index), attempt),
            index=index,
            retry_attempt=attempt,
            phase=execution_pb2.TaskExecution.RETRYABLE_FAILED,
        )
        for name, uri in retried.get("logs", []):
            resource.logs.add(name=name, uri=uri)
        attach_error(resource, _stored_error(retried["error"]))
        return resource


def _stored_error(stored: list[str]) -> ExecutionError:
    code, message, kind = stored
    return ExecutionError(code, message, ErrorKind(kind))


def _set_sparse(values: dict[str, str], key: str, value: str) -> None:
    if value:
        values[key] = value
    else:
        values.pop(key, None)


T = TypeVar("T")
R = TypeVar("R")


async def _bounded(items: list[T], work: Callable[[T], Awaitable[R]]) -> list[R]:
    semaphore = asyncio.Semaphore(_CONCURRENCY)

    async def one(item: T) -> R:
        async with semaphore:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
