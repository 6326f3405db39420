"""Propeller's per-round persistence: what one round costs to encode and write a large workflow's state.

Each round of a workflow of N nodes changes two nodes (``--changed``), records a node event for each and a task
event, and drops the events of the round before (delivered), as a fan-out's rounds do; the round's write is what
the round runner does (``StateEncoder``'s delta through ``SqlWorkflowStore.update``: one version-checked
transaction writing the changed node and event rows).
The figure should not grow with N.

Usage: .venv/bin/python services/propeller/benchmarks/bench_state_writes.py [--nodes 100,1000] [--rounds R]
    [--changed C] [--database-url URL]   (default: a SQLite file in a temporary directory, the embedded default)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2

from aloft_db import DatabaseConfig, create_database, migrate
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.server import MIGRATIONS, VERSION_TABLE
from aloft_propeller.state import NodePhase, StateEncoder, WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, WorkflowRecord
from aloft_propeller.store.sql import SqlWorkflowStore


def large_state(size: int) -> WorkflowState:
    """Half the nodes finished, half queued, as in the middle of a fan-out."""
    state = WorkflowState(phase=WorkflowPhase.RUNNING)
    now = time.time()
    for i in range(size):
        node = state.node(f"n{i}")
        node.kind, node.started_at, node.updated_at = "task", now, now
        node.phase = NodePhase.SUCCEEDED if i < size // 2 else NodePhase.QUEUED
        node.outputs_uri = f"file:///data/metadata/p/d/e/n{i}/0/outputs.pb"
    return state


def node_event(path: str) -> event_pb2.NodeExecutionEvent:
    """Shaped as the executor records them (identity, URIs, times): a payload of about 200 bytes."""
    event = event_pb2.NodeExecutionEvent(
        id=identifier_pb2.NodeExecutionIdentifier(
            node_id=path,
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(project="b", domain="d", name="e" * 20),
        ),
        phase=2,
        producer_id="propeller",
        input_uri=f"file:///data/metadata/b/d/{'e' * 20}/{path}/inputs.pb",
        spec_node_id=path,
        node_name=path,
        event_version=1,
    )
    event.occurred_at.FromNanoseconds(time.time_ns())
    event.reported_at.CopyFrom(event.occurred_at)
    return event


async def per_round_ms(store: SqlWorkflowStore, size: int, rounds: int, changed: int = 2) -> tuple[float, float]:
    """Wall and CPU milliseconds per round (CPU: this process's, SQLite's work included; steadier on a busy
    machine)."""
    record, _ = await store.create(WorkflowRecord(key=ExecutionKey("b", "d", f"w{size}-{time.time_ns()}"), spec=b"s"))
    state = large_state(size)
    record = await store.update(record.with_state(state))
    encoder = StateEncoder(state)
    recorder = OutboxRecorder(state, list(state.nodes))
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(rounds):
        state.outbox = []  # the last round's events were delivered
        for path in (f"n{(i + 7 * j) % size}" for j in range(changed)):
            node = state.node(path)
            node.phase = NodePhase.SUCCEEDED if node.phase == NodePhase.RUNNING else NodePhase.RUNNING
            node.updated_at = time.time()
            recorder.node(node_event(path))
        recorder.task(event_pb2.TaskExecutionEvent(parent_node_execution_id=node_event(f"n{i % size}").id, phase=2))
        encoder.encode(state)
        delta = encoder.delta(state)
        record = await store.update(record.with_state(state), delta)
        if delta is not None:
            encoder.written(state, delta)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return wall * 1000 / rounds, cpu * 1000 / rounds


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'workflows.db'}"
        migrate(MIGRATIONS, url, VERSION_TABLE)
        db = create_database(DatabaseConfig(url=url), Path(tmp) / "unused.db")
        store = SqlWorkflowStore(db)
        backend = url.split(":", 1)[0]
        try:
            for size in (int(n) for n in args.nodes.split(",")):
                wall, cpu = await per_round_ms(store, size, args.rounds, args.changed)
                print(
                    f"{size:,}-node workflow, {args.changed} nodes changed per round, {backend}: {wall:.2f} ms per"
                    f" round ({cpu:.2f} ms CPU) to encode, write"
                )
        finally:
            await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", default="100,1000")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--changed", type=int, default=2, help="nodes changed per round, one node event each")
    parser.add_argument("--database-url", default="", help="e.g. postgresql://postgres@127.0.0.1:5432/db (migrated)")
    asyncio.run(main(parser.parse_args()))
