"""Incremental rounds (nodes/frontier.py): after the first round's full walk, a round visits what changed, not the
whole DAG; a restart (or a failed round) forgets that and walks in full again, converging all the same.

Rounds are run one at a time on the real round runner, workflow executor, node handlers and SQLite store, with a
plugin whose attempts run until the test lets them finish, under a fixed number of slots (like local-process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import (
    compiler_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from flyteidl.event import event_pb2

from aloft_db import DatabaseConfig, create_database
from aloft_propeller.config import PropellerConfig, PropellerSection
from aloft_propeller.controller.round import ACK_WRITE_DELAY, RoundRunner
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.events.sink import Delivery
from aloft_propeller.nodes.array.state import ArrayState, SubPhase
from aloft_propeller.nodes.base import Scope
from aloft_propeller.nodes.executor import NodeExecutor
from aloft_propeller.nodes.registry import default_node_handlers
from aloft_propeller.plugins.base import Phase, PhaseInfo, PluginAnswer, TaskExecutionContext
from aloft_propeller.server import run_migrations
from aloft_propeller.state import NodePhase, StateEncoder, WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, WorkflowRecord
from aloft_propeller.store.cached import CachedWorkflowStore
from aloft_propeller.store.sql import SqlWorkflowStore
from aloft_propeller.workflow import WorkflowExecutor
from aloft_service.runtime import StackConfig
from aloft_storage import StorageConfig, create_blob_store


@dataclass
class HeldPlugin:
    """Attempts run until released; at most ``slots`` at once, the rest wait for resources (as local-process)."""

    slots: int
    running: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)
    starts: list[str] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    handled: int = 0
    asked: list[str] = field(default_factory=list)  # the nodes handled, in order
    fail_once: set[str] = field(default_factory=set)  # raise (a broken round) the first time these are handled

    id: str = "held"
    task_types: tuple[str, ...] = ("raw-container",)

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        self.handled += 1
        node = ctx.task_execution_id.node_execution_id.node_id
        self.asked.append(node)
        if node in self.fail_once:
            self.fail_once.discard(node)
            raise RuntimeError(f"a broken round at {node}")
        if ctx.unique_id in self.finished:  # a replayed round adopts the attempt's result (as local-process does)
            return PluginAnswer(PhaseInfo(Phase.SUCCESS, version=1))
        if ctx.unique_id not in self.running:
            if len(self.running) >= self.slots:
                return PluginAnswer(PhaseInfo(Phase.WAITING_FOR_RESOURCES, reason="no slot"))
            self.running.add(ctx.unique_id)
            self.starts.append(ctx.unique_id)
        if node in self.released:
            self.running.discard(ctx.unique_id)
            self.finished.add(ctx.unique_id)
            return PluginAnswer(PhaseInfo(Phase.SUCCESS, version=1))
        return PluginAnswer(PhaseInfo(Phase.RUNNING))

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        self.running.discard(ctx.unique_id)

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        return None

    def for_task_type(self, task_type: str) -> HeldPlugin:
        return self


class AckSink:
    async def send(self, kind: str, payload: bytes) -> Delivery:
        return Delivery.DELIVERED

    async def close(self) -> None:
        return None


def node_event(path: str) -> event_pb2.NodeExecutionEvent:
    return event_pb2.NodeExecutionEvent(id=identifier_pb2.NodeExecutionIdentifier(node_id=path), phase=1)


def n(i: int) -> str:
    """Node ids that sort as they count (the topological order sorts each level by id)."""
    return f"n{i:03d}"


TASK = tasks_pb2.TaskTemplate(
    id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", domain="d", name="t", version="1"),
    type="raw-container",
    interface=interface_pb2.TypedInterface(),
    container=tasks_pb2.Container(image="alpine", command=["true"]),
)
PARENT = "parent"


def tasks_workflow(size: int, chain: bool, name: str = "w") -> workflow_pb2.WorkflowTemplate:
    nodes = []
    for i in range(size):
        node = workflow_pb2.Node(id=n(i), task_node=workflow_pb2.TaskNode(reference_id=TASK.id))
        if chain and i:
            node.upstream_node_ids.append(n(i - 1))
        nodes.append(node)
    return workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW, project="p", domain="d", name=name, version="1"
        ),
        nodes=nodes,
    )


def closure(size: int, chain: bool) -> compiler_pb2.CompiledWorkflowClosure:
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(template=tasks_workflow(size, chain)),
        tasks=[compiler_pb2.CompiledTask(template=TASK)],
    )


def parent_closure(size: int) -> compiler_pb2.CompiledWorkflowClosure:
    """One top-level node, PARENT, running ``size`` independent task nodes as its children (a subworkflow: nested
    as a dynamic node's workflow is)."""
    children = tasks_workflow(size, chain=False, name="children")
    parent = workflow_pb2.Node(id=PARENT, workflow_node=workflow_pb2.WorkflowNode(sub_workflow_ref=children.id))
    template = tasks_workflow(0, chain=False)
    template.nodes.append(parent)
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(template=template),
        sub_workflows=[compiler_pb2.CompiledWorkflow(template=children)],
        tasks=[compiler_pb2.CompiledTask(template=TASK)],
    )


@dataclass
class Engine:
    tmp_path: Path
    plugin: HeldPlugin
    poll_ceiling: str = "200ms"  # downstream-eval-duration
    config: Any = None
    db: Any = None
    store: Any = None
    executor: Any = None
    runner: Any = None
    blobs: Any = None

    def start(self) -> None:
        """A fresh propeller over the same store (what a restart keeps: only the store and the blobs)."""
        self.config = self.config or PropellerConfig(
            propeller=PropellerSection.model_validate({"downstream-eval-duration": self.poll_ceiling}),
            database=DatabaseConfig(url=f"sqlite:///{self.tmp_path / 'p.db'}"),
            storage=StorageConfig.model_validate({"type": "local", "local": {"root": str(self.tmp_path / "blobs")}}),
            stack=StackConfig(dataDir=str(self.tmp_path / "stack")),
        )
        run_migrations(self.config)
        self.db = self.db or create_database(self.config.effective_database(), self.tmp_path / "p.db")
        self.store = SqlWorkflowStore(self.db)
        self.blobs = blobs = create_blob_store(self.config.storage)
        self.executor = WorkflowExecutor(self.config, blobs, self.plugin, default_node_handlers(), self.store)
        self.runner = RoundRunner(CachedWorkflowStore(self.store), self.executor, AckSink(), background_delivery=False)

    async def create(
        self,
        key: ExecutionKey,
        size: int,
        chain: bool = False,
        built: compiler_pb2.CompiledWorkflowClosure | None = None,
        shape: Any = None,
        inputs_uri: str = "",
    ) -> None:
        request = dataplane_pb2.CreateExecutionRequest(
            id=identifier_pb2.WorkflowExecutionIdentifier(project=key.project, domain=key.domain, name=key.name),
            compiled_closure=built or (shape or closure)(size, chain),
            inputs_uri=inputs_uri,
        )
        await self.store.create(WorkflowRecord(key=key, spec=request.SerializeToString()))

    async def round(self, key: ExecutionKey) -> int:
        """One round; the number of nodes the plugin was asked about."""
        before = self.plugin.handled
        await self.runner.run_round(key)
        return self.plugin.handled - before

    async def settle(self, key: ExecutionKey) -> None:
        """Rounds until one changes nothing."""
        for _ in range(50):
            if not (await self.runner.run_round(key)).changed:
                return
        raise AssertionError("rounds keep changing the state")

    def visited(self, key: ExecutionKey) -> int:
        frontier = self.executor.frontier_of(key)
        assert frontier is not None
        return int(frontier.stats.visited)

    async def finish(self, key: ExecutionKey, limit: int = 500) -> WorkflowRecord:
        for _ in range(limit):
            outcome = await self.runner.run_round(key)
            if outcome.terminal:
                record: WorkflowRecord = await self.store.get(key)
                return record
            await asyncio.sleep(0.001)  # let node polls come due
        raise AssertionError(f"{key} did not finish in {limit} rounds")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    harness = Engine(tmp_path, HeldPlugin(slots=4))
    harness.start()
    yield harness
    await harness.db.dispose()


@pytest.fixture
async def slow_polls(tmp_path: Path) -> AsyncIterator[Engine]:
    """Polls back off to 5 s (the default downstream-eval-duration): a poll that came due is seen to."""
    harness = Engine(tmp_path, HeldPlugin(slots=4), poll_ceiling="5s")
    harness.start()
    yield harness
    await harness.db.dispose()


KEY = ExecutionKey("p", "d", "fanout")


async def test_a_round_after_one_exit_visits_that_node_and_the_next_waiting_one(engine: Engine) -> None:
    await engine.create(KEY, 60)
    await engine.round(KEY)  # the first round walks everything: 4 start, 56 wait for a slot
    assert engine.executor.frontier_of(KEY).stats.full
    assert len(engine.plugin.running) == 4
    await engine.settle(KEY)

    engine.plugin.released.add(n(0))
    engine.runner.wake_node(KEY, n(0))
    engine.plugin.asked.clear()
    asked = await engine.round(KEY)
    # n0 finishes, its slot goes to the first waiting node, the second waiting one finds none; running attempts
    # whose poll came due may be asked too: at most 6 of 60 nodes, never the waiting ones beyond the first two.
    assert engine.plugin.asked[0] == n(0)
    assert [node for node in engine.plugin.asked if node not in (n(0), n(1), n(2), n(3))] == [n(4), n(5)]
    assert asked <= 6
    assert engine.visited(KEY) == asked
    record = await engine.store.get(KEY)
    assert record.state.nodes[n(0)].phase == NodePhase.SUCCEEDED
    assert len(engine.plugin.running) == 4

    # Several exits before the next round are handled by that one round.
    engine.plugin.released.update({n(1), n(2), n(3)})
    for node in (n(1), n(2), n(3)):
        engine.runner.wake_node(KEY, node)
    engine.plugin.asked.clear()
    asked = await engine.round(KEY)
    assert sorted(node for node in engine.plugin.asked if node not in (n(1), n(2), n(3), n(4))) == [
        n(5),
        n(6),
        n(7),
        n(8),
    ]  # 3 exits and 3 starts, then a waiting node that stays blocked: not 59
    assert asked <= 8
    assert sum(state.phase == NodePhase.SUCCEEDED for state in (await engine.store.get(KEY)).state.nodes.values()) == 4


async def test_a_round_with_nothing_due_visits_nothing(engine: Engine) -> None:
    await engine.create(KEY, 30)
    await engine.settle(KEY)
    engine.plugin.slots = 0  # nothing frees a slot: the waiting nodes stay blocked
    engine.plugin.asked.clear()
    await engine.round(KEY)
    waiting = [node for node in engine.plugin.asked if node not in (n(0), n(1), n(2), n(3))]
    assert waiting == [n(4)]  # the first waiting node is tried again, the other 25 wait with it


async def test_a_chain_advances_node_by_node_with_one_visit_each(engine: Engine) -> None:
    key = ExecutionKey("p", "d", "chain")
    await engine.create(key, 30, chain=True)
    await engine.round(key)
    for i in range(29):
        engine.plugin.released.add(n(i))
        engine.runner.wake_node(key, n(i))
        asked = await engine.round(key)
        assert asked == 2, i  # n{i} finishes, n{i+1} starts in the same round
    engine.plugin.released.add(n(29))
    record = await engine.finish(key)
    assert record.state.phase == WorkflowPhase.SUCCEEDED
    assert len(engine.plugin.starts) == 30


async def test_a_parent_whose_children_moved_is_visited_again_at_once(slow_polls: Engine) -> None:
    """A parent's own state (a dynamic or subworkflow node's) stays the same while its children run: a visit in
    which they moved is progress all the same. Counted as idle, the parent's polls backed off (1.5 times longer per
    visit) while its children, started a slot at a time, kept finishing: a 500-child dynamic fan-out run by polls
    waited up to seconds between batches."""
    engine = slow_polls
    key = ExecutionKey("p", "d", "parent")
    await engine.create(key, 0, built=parent_closure(8))
    await engine.settle(key)  # 4 children run, 4 wait for a slot
    for _ in range(12):  # looks that find nothing new: the parent's polls back off (to 0.26 s)
        engine.runner.wake_node(key, PARENT)
        await engine.round(key)
    assert len(engine.plugin.running) == 4
    child = f"{PARENT}-0-"
    engine.plugin.released.update(f"{child}{n(i)}" for i in range(4))
    engine.runner.wake_node(key, PARENT)  # a poll came due
    await engine.round(key)  # 4 children finish, the other 4 start
    assert (len(engine.plugin.finished), len(engine.plugin.running)) == (4, 4)

    engine.plugin.asked.clear()
    await engine.round(key)  # nothing woke it: the visit that moved its children makes it due at once
    assert sorted(engine.plugin.asked) == [f"{child}{n(i)}" for i in range(4, 8)]


async def test_a_restart_forgets_the_frontier_and_converges(engine: Engine) -> None:
    await engine.create(KEY, 40)
    await engine.settle(KEY)
    # Exits woken but not yet evaluated when propeller stops: the new one knows nothing of them.
    engine.plugin.released.update({n(i) for i in range(40)})
    for i in range(4):
        engine.runner.wake_node(KEY, n(i))
    engine.start()
    await engine.round(KEY)
    assert engine.executor.frontier_of(KEY).stats.full  # walks in full after a restart
    record = await engine.finish(KEY)
    assert record.state.phase == WorkflowPhase.SUCCEEDED
    assert all(state.phase == NodePhase.SUCCEEDED for state in record.state.nodes.values())
    assert sorted(engine.plugin.starts) == sorted(set(engine.plugin.starts))  # no attempt started twice
    assert len(engine.plugin.starts) == 40


async def test_a_failed_round_is_followed_by_a_full_walk(engine: Engine) -> None:
    await engine.create(KEY, 12)
    await engine.settle(KEY)
    engine.plugin.released.update({n(i) for i in range(12)})
    engine.plugin.fail_once.add(n(1))
    engine.runner.wake_node(KEY, n(0))
    engine.runner.wake_node(KEY, n(1))
    with pytest.raises(RuntimeError):
        await engine.round(KEY)  # n0's success was applied in memory, then the round broke: nothing saved
    assert (await engine.store.get(KEY)).state.nodes[n(0)].phase != NodePhase.SUCCEEDED
    await engine.round(KEY)
    assert engine.executor.frontier_of(KEY).stats.full
    record = await engine.finish(KEY)
    assert record.state.phase == WorkflowPhase.SUCCEEDED
    assert len(engine.plugin.starts) == 12


def test_an_events_group_is_the_longest_top_level_id_prefixing_its_path() -> None:
    """Found by prefix lookup (it used to scan every top-level id per event: O(nodes) each)."""
    recorder = OutboxRecorder(WorkflowState(), ["n1", "n1-n0", "n10", "dn0"])
    assert recorder.group_of("n1") == "n1"
    assert recorder.group_of("n1-0-n3") == "n1"
    assert recorder.group_of("n1-n0-0-n2") == "n1-n0"
    assert recorder.group_of("n10-0-n1") == "n10"
    assert recorder.group_of("n2") == "n2"  # not a top-level id's: its own group
    assert recorder.group_of("x-n1") == "x-n1"


def test_the_encoder_reports_only_what_changed_since_the_last_write() -> None:
    state = WorkflowState()
    for i in range(5):
        state.node(n(i)).kind = "task"
    encoder = StateEncoder(state)  # as stored
    assert encoder.encode(state) == (False, []) and encoder.delta(state) is None
    state.node(n(2)).phase = NodePhase.RUNNING
    state.phase = WorkflowPhase.RUNNING
    changed, changes = encoder.encode(state)
    assert changed and [(change.path, change.before) for change in changes] == [(n(2), NodePhase.NOT_YET_STARTED)]
    encoder.check(state)
    delta = encoder.delta(state)
    assert delta is not None and list(delta.nodes) == [n(2)] and delta.events == []
    assert json.loads(delta.scalars)["phase"] == "RUNNING"
    encoder.written(state, delta)
    assert encoder.encode(state) == (False, []) and encoder.delta(state) is None
    state.node(n(3))  # touched, unchanged
    OutboxRecorder(state, [n(3)]).node(node_event(n(3)))
    changed, changes = encoder.encode(state)
    delta = encoder.delta(state)
    assert changed and changes == [] and delta is not None and delta.nodes == {}
    assert [event.seq for event in delta.events] == [1]


def test_the_encoder_keeps_count_of_running_task_nodes() -> None:
    """The max-parallelism budget reads the encoder's count instead of scanning every node each round."""
    state = WorkflowState()
    state.node(n(0)).kind = "task"
    state.node(n(0)).phase = NodePhase.RUNNING
    state.node(n(1)).kind = "subworkflow"
    state.node(n(1)).phase = NodePhase.RUNNING  # not a task: not counted
    encoder = StateEncoder(state)  # as stored
    assert encoder.running_tasks == 1
    for i, phase in ((2, NodePhase.QUEUED), (3, NodePhase.RETRYABLE_FAILURE), (4, NodePhase.NOT_YET_STARTED)):
        state.node(n(i)).kind = "task"
        state.node(n(i)).phase = phase
    encoder.encode(state)
    assert encoder.running_tasks == 3
    state.node(n(0)).phase = NodePhase.SUCCEEDED
    state.node(n(3)).phase = NodePhase.RUNNING
    encoder.encode(state)
    encoder.check(state)
    assert encoder.running_tasks == 2
    state.nodes = {path: node for path, node in state.nodes.items() if path != n(2)}  # replaced wholesale
    encoder.encode(state)
    assert encoder.running_tasks == 1


async def test_a_finished_nested_scope_is_read_not_touched() -> None:
    """A subworkflow's (or dynamic workflow's) DAG is walked whenever its parent is visited: its finished nodes
    must not be marked touched, or every such round encodes and writes them all again."""
    nodes = [workflow_pb2.Node(id=f"n{i}") for i in range(3)]
    template = workflow_pb2.WorkflowTemplate(nodes=nodes)
    scope = Scope(compiler_pb2.CompiledWorkflow(template=template), literals_pb2.LiteralMap(), "p-0-", "p")
    state = WorkflowState()
    for node in nodes:
        state.node(scope.path_of(node.id)).phase = NodePhase.SUCCEEDED
    state.touched.clear()
    executor = NodeExecutor(default_node_handlers(), max_system_retries=0)
    result = await executor.execute_dag(SimpleNamespace(state=state, frontier=None), scope)  # type: ignore[arg-type]
    assert result.phase == NodePhase.SUCCEEDED and state.touched == {}


# ---- delivery: taken events leave the store with the next write; a terminal round does not wait ---------------
# (controller/round.py, ACK_WRITE_DELAY), with background delivery as propeller runs it.


ACKS = ExecutionKey("p", "d", "acks")


class RecordingSink:
    """Acknowledges every event and records it; ``hold`` keeps deliveries waiting until set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []
        self.hold = asyncio.Event()
        self.hold.set()

    async def send(self, kind: str, payload: bytes) -> Delivery:
        await self.hold.wait()
        if kind == "node":
            event = event_pb2.NodeExecutionEvent.FromString(payload)
            self.sent.append((kind, event.id.node_id, event.phase))
        elif kind == "task":
            task = event_pb2.TaskExecutionEvent.FromString(payload)
            self.sent.append((kind, task.parent_node_execution_id.node_id, task.phase))
        else:
            self.sent.append((kind, "", event_pb2.WorkflowExecutionEvent.FromString(payload).phase))
        return Delivery.DELIVERED

    async def close(self) -> None:
        return None


@pytest.fixture
async def delivering(tmp_path: Path) -> AsyncIterator[tuple[Engine, RecordingSink]]:
    harness = Engine(tmp_path, HeldPlugin(slots=4))
    harness.start()
    sink = RecordingSink()
    harness.runner = RoundRunner(CachedWorkflowStore(harness.store), harness.executor, sink)
    yield harness, sink
    await harness.runner.close()
    await harness.db.dispose()


async def _delivered(runner: RoundRunner) -> None:
    for _ in range(200):
        if all(task.done() for task in runner._deliveries.values()):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the delivery did not end")


async def test_taken_events_leave_the_store_with_the_next_write_and_are_never_sent_again(
    delivering: tuple[Engine, RecordingSink],
) -> None:
    harness, sink = delivering
    await harness.create(ACKS, 3, chain=True)
    await harness.runner.run_round(ACKS)  # n0 starts: its events are stored, then delivered in the background
    await _delivered(harness.runner)
    first = list(sink.sent)
    assert ("node", n(0), 1) in first  # QUEUED went out
    version = (await harness.store.get(ACKS)).resource_version

    outcome = await harness.runner.run_round(ACKS)  # takes in the answers: nothing else changed, nothing written
    stored = await harness.store.get(ACKS)
    assert stored.resource_version == version
    assert len(stored.state.outbox) == len(first)
    assert outcome.flush_in is not None and outcome.flush_in <= ACK_WRITE_DELAY

    # Read again from the store (an API write, another workflow's invalidation): the taken events are not sent again.
    harness.runner.invalidate(ACKS)
    await harness.runner.run_round(ACKS)
    await _delivered(harness.runner)
    assert sink.sent == first
    assert not (await harness.store.get(ACKS)).state.outbox  # that round wrote their drop

    # The next node's events: taken, then dropped from the store by the write that follows the exit.
    harness.plugin.released.add(n(0))
    harness.runner.wake_node(ACKS, n(0))
    await harness.runner.run_round(ACKS)
    await _delivered(harness.runner)
    await harness.runner.run_round(ACKS)
    assert (await harness.store.get(ACKS)).state.outbox  # n1's events, taken, still stored
    harness.plugin.released.add(n(1))
    harness.runner.wake_node(ACKS, n(1))
    await harness.runner.run_round(ACKS)
    await _delivered(harness.runner)
    await harness.runner.run_round(ACKS)
    assert ("node", n(2), 1) in sink.sent
    assert len(set(sink.sent)) == len(sink.sent)  # every event went out once
    # n1's success and n2's start (taken, not yet dropped) at most: the exit round's write dropped n1's start.
    assert len((await harness.store.get(ACKS)).state.outbox) <= 5


async def test_taken_events_are_dropped_after_the_delay_when_nothing_else_is_written(
    delivering: tuple[Engine, RecordingSink],
) -> None:
    harness, _ = delivering
    await harness.create(ACKS, 2, chain=True)
    await harness.runner.run_round(ACKS)
    await _delivered(harness.runner)
    await harness.runner.run_round(ACKS)
    assert (await harness.store.get(ACKS)).state.outbox
    await asyncio.sleep(ACK_WRITE_DELAY)
    outcome = await harness.runner.run_round(ACKS)
    assert outcome.flush_in is None
    assert not (await harness.store.get(ACKS)).state.outbox


async def test_a_terminal_round_does_not_wait_for_the_last_delivery(delivering: tuple[Engine, RecordingSink]) -> None:
    harness, sink = delivering
    await harness.create(ACKS, 1)
    await harness.runner.run_round(ACKS)
    await _delivered(harness.runner)
    sink.hold.clear()  # admin takes its time with the last events
    harness.plugin.released.add(n(0))
    harness.runner.wake_node(ACKS, n(0))
    outcome = await harness.runner.run_round(ACKS)  # n0 and the workflow succeed; their events go out
    assert not outcome.terminal
    outcome = await asyncio.wait_for(harness.runner.run_round(ACKS), 1)  # returns while the delivery waits
    assert not outcome.terminal
    sink.hold.set()
    await _delivered(harness.runner)
    outcome = await harness.runner.run_round(ACKS)
    while not outcome.terminal:  # the workflow's own events follow its nodes' in a delivery of their own
        await _delivered(harness.runner)
        outcome = await harness.runner.run_round(ACKS)
    record = await harness.store.get(ACKS)
    assert record.state.phase == WorkflowPhase.SUCCEEDED and not record.state.outbox
    assert sink.sent[-1][0] == "workflow"


def nested_closure(size: int, chain: bool) -> compiler_pb2.CompiledWorkflowClosure:
    """One subworkflow node ``n0`` whose workflow is ``closure(size)`` (a dynamic node's children run alike)."""
    inner = closure(size, chain)
    inner.primary.template.id.name = "inner"
    parent = workflow_pb2.Node(id="n0")
    parent.workflow_node.sub_workflow_ref.CopyFrom(inner.primary.template.id)
    template = workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.WORKFLOW, project="p", domain="d", name="w"),
        nodes=[parent],
    )
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(template=template), sub_workflows=[inner.primary], tasks=inner.tasks
    )


def map_closure(size: int, chain: bool) -> compiler_pb2.CompiledWorkflowClosure:
    """``map_task`` over the workflow input ``xs`` (``size`` elements)."""
    task = closure(1, False).tasks[0]
    task.template.interface.inputs.variables["x"].type.simple = types_pb2.INTEGER
    array = workflow_pb2.ArrayNode(node=workflow_pb2.Node(id="t", task_node=workflow_pb2.TaskNode()))
    array.node.task_node.reference_id.CopyFrom(task.template.id)
    array.is_original_sub_node_interface.value = True
    node = workflow_pb2.Node(id="n0", array_node=array)
    node.inputs.add(var="x").binding.promise.CopyFrom(types_pb2.OutputReference(node_id="start-node", var="xs"))
    template = workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.WORKFLOW, project="p", domain="d", name="m"),
        nodes=[node],
    )
    return compiler_pb2.CompiledWorkflowClosure(primary=compiler_pb2.CompiledWorkflow(template=template), tasks=[task])


async def released_one_of(engine: Engine, key: ExecutionKey, size: int, path: str) -> list[str]:
    """Start ``size`` attempts under 4 slots, settle, let ``path`` exit: what the next round asks the plugin."""
    await engine.round(key)  # the first round steps everything: 4 start, the rest wait for a slot
    assert len(engine.plugin.running) == 4
    await engine.settle(key)
    engine.plugin.released.add(path)
    engine.runner.wake_node(key, path)
    engine.plugin.asked.clear()
    await engine.round(key)
    return list(engine.plugin.asked)


async def finish_all(engine: Engine, key: ExecutionKey, paths: list[str]) -> WorkflowRecord:
    engine.plugin.released.update(paths)
    for path in paths:
        engine.runner.wake_node(key, path)
    record = await engine.finish(key)
    assert record.state.phase == WorkflowPhase.SUCCEEDED
    assert len(engine.plugin.starts) == len(set(engine.plugin.starts)) == len(paths)
    return record


async def test_a_nested_scope_round_after_one_exit_visits_that_child_and_the_next_waiting_one(engine: Engine) -> None:
    """A subworkflow's (or dynamic workflow's) children have a frontier of their own: a visit of the parent after
    one child exited asks about that child, the running ones (a plugin that wakes nobody is polled) and the next
    waiting ones, not all 60."""
    key = ExecutionKey("p", "d", "nested")
    await engine.create(key, 60, shape=nested_closure)
    children = [f"n0-0-{n(i)}" for i in range(60)]
    asked = await released_one_of(engine, key, 60, children[0])
    assert asked[0] == children[0]
    assert sorted(set(asked) - set(children[:4])) == children[4:6]
    assert len(asked) <= 6
    await finish_all(engine, key, children)


async def test_a_map_round_after_one_exit_steps_that_element_and_the_next_waiting_one(engine: Engine) -> None:
    key = ExecutionKey("p", "d", "map")
    xs = literals_pb2.LiteralMap()
    xs.literals["xs"].collection.literals.extend(
        literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=i))) for i in range(60)
    )
    inputs_uri = engine.blobs.uri("inputs", "map", "inputs.pb")
    await engine.blobs.write_proto(inputs_uri, xs)
    await engine.create(key, 60, shape=map_closure, inputs_uri=inputs_uri)
    elements = [f"n0-0-{i}" for i in range(60)]
    asked = await released_one_of(engine, key, 60, elements[0])
    assert asked[0] == elements[0]
    # Waiting elements are tried in batches that double while all of one got going (1, then 2): not all 56.
    assert sorted(set(asked) - set(elements[:4])) == elements[4:7]
    assert len(asked) <= 7
    record = await finish_all(engine, key, elements)
    array = ArrayState.decode(record.state.nodes["n0"].plugin_state)
    assert array is not None and set(array.phases) == {SubPhase.SUCCEEDED}
    assert (array.logs, array.started_at, array.plugin_states, array.retried_attempts) == ({}, {}, {}, {})
