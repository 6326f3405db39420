"""The user's side of bench_end_to_end.py, run with the unmodified-flytekit virtualenv's Python.

Registers a workflow of no-op container tasks (``true``) — a fan-out of N independent nodes or a chain of N — with
a launch plan at the given max parallelism, then runs it ``--runs`` times through the public AdminService API, as a
user would with FlyteRemote: execute, poll until SUCCEEDED, list every node execution and every node's task
executions. Prints one JSON document: per run, seconds from CreateExecution until admin reported SUCCEEDED and until
it had listed every node and task execution.

Usage: python flytekit_user.py --config flytekit.yaml --shape fanout|chain --size N --parallelism P --runs R
       python flytekit_user.py --config flytekit.yaml --shape chain --size 1 --sleep 60 --in-flight 1000
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flytekit import ContainerTask, LaunchPlan, Workflow
from flytekit.configuration import Config, ImageConfig, SerializationSettings
from flytekit.models.core.execution import WorkflowExecutionPhase
from flytekit.remote import FlyteRemote

PROJECT, DOMAIN = "flytesnacks", "development"
PAGE = 1000


def build_workflow(shape: str, size: int, command: tuple[str, ...] = ("true",)) -> Workflow:
    noop = ContainerTask(name=f"bench.{command[0]}", image="alpine:3.19", command=list(command))
    workflow = Workflow(name=f"bench.{shape}_{size}_{command[0]}")
    previous = None
    for _ in range(size):
        node = workflow.add_entity(noop)
        if shape == "chain" and previous is not None:
            previous.runs_before(node)
        previous = node
    return workflow


def list_all(call: Any, *args: Any) -> list[Any]:
    items: list[Any] = []
    token = ""
    while True:
        page, token = call(*args, limit=PAGE, token=token)
        items.extend(page)
        if not token:
            return items


def chain_transitions_ms(nodes: list[Any]) -> list[float]:
    """From admin's node executions of a chain (n0 → n1 → ...): each node's first event (QUEUED) minus its upstream's
    last (SUCCEEDED), in milliseconds: Flyte's transition latency as admin recorded it, durable."""
    by_index = sorted(nodes, key=lambda n: int(n.id.node_id[1:]))
    return [
        (child.closure.created_at - parent.closure.updated_at).total_seconds() * 1000
        for parent, child in itertools.pairwise(by_index)
    ]


def chain_exit_to_launch_ms(nodes: list[Any], tasks: list[list[Any]]) -> list[float]:
    """From admin's task executions of a chain: each task's start (its launch) minus its upstream task's end (the
    process's exit, from the exit status file's time), in milliseconds: the engine's whole share of a transition,
    noticing the exit included."""
    by_index = sorted(zip(nodes, tasks, strict=True), key=lambda pair: int(pair[0].id.node_id[1:]))
    ends = [(t[-1].closure.started_at + t[-1].closure.duration, t[0].closure.started_at) for _, t in by_index if t]
    return [(start - end).total_seconds() * 1000 for (end, _), (_, start) in itertools.pairwise(ends)]


def wait_durable(
    remote: FlyteRemote, execution_id: Any, size: int, timeout: float
) -> tuple[float, list[Any], list[list[Any]]]:
    """Poll GetExecution until SUCCEEDED, then list every node and task execution (8 threads, as a UI would)."""
    client = remote.client
    deadline = time.monotonic() + timeout
    while True:
        phase = client.get_execution(execution_id).closure.phase
        if phase == WorkflowExecutionPhase.SUCCEEDED:
            break
        if phase in (WorkflowExecutionPhase.FAILED, WorkflowExecutionPhase.ABORTED, WorkflowExecutionPhase.TIMED_OUT):
            raise SystemExit(f"{execution_id.name} ended in phase {phase}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{execution_id.name} not SUCCEEDED within {timeout}s (phase {phase})")
        time.sleep(0.02)
    succeeded_at = time.perf_counter()
    nodes = [n for n in list_all(client.list_node_executions, execution_id) if n.id.node_id.startswith("n")]
    with ThreadPoolExecutor(8) as pool:
        tasks = list(pool.map(lambda n: list_all(client.list_task_executions_paginated, n.id), nodes))
    task_count = sum(len(t) for t in tasks)
    if len(nodes) < size or task_count < size:
        raise SystemExit(f"{execution_id.name}: admin lists {len(nodes)} nodes and {task_count} task executions")
    return succeeded_at, nodes, tasks


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--shape", choices=("fanout", "chain"), required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--parallelism", type=int, default=0, help="launch plan max parallelism (0: admin's default)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--in-flight", type=int, default=0, help="only start this many executions of --shape/--size")
    parser.add_argument("--sleep", type=float, default=0, help="tasks run `sleep S` instead of `true`")
    args = parser.parse_args()

    remote = FlyteRemote(config=Config.auto(config_file=args.config), default_project=PROJECT, default_domain=DOMAIN)
    version = f"bench-{uuid.uuid4().hex[:10]}"
    settings = SerializationSettings(image_config=ImageConfig.auto_default_image(), project=PROJECT, domain=DOMAIN)
    command = ("sleep", str(args.sleep)) if args.sleep else ("true",)
    workflow = build_workflow(args.shape, args.size, command)
    started = time.perf_counter()
    remote.register_workflow(workflow, serialization_settings=settings, version=version)
    options: dict[str, Any] = {"max_parallelism": args.parallelism} if args.parallelism else {}
    launch_plan = LaunchPlan.get_or_create(
        workflow, name=f"bench.{args.shape}_{args.size}_p{args.parallelism}", **options
    )
    flyte_launch_plan = remote.register_launch_plan(launch_plan, version=version, serialization_settings=settings)
    registered = time.perf_counter() - started

    if args.in_flight:
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: remote.execute(flyte_launch_plan, inputs={}, wait=False), range(args.in_flight)))
        print(
            json.dumps({"register_s": registered, "created": args.in_flight, "create_s": time.perf_counter() - start})
        )
        return 0
    runs = []
    for _ in range(args.runs):
        start = time.perf_counter()
        execution = remote.execute(flyte_launch_plan, inputs={}, wait=False)
        created = time.perf_counter()
        succeeded_at, nodes, tasks = wait_durable(remote, execution.id, args.size, args.timeout)
        listed = time.perf_counter()
        run: dict[str, Any] = {
            "name": execution.id.name,
            "create_s": created - start,
            "succeeded_s": succeeded_at - start,
            "durable_s": listed - start,
            "nodes": len(nodes),
            "tasks": sum(len(t) for t in tasks),
        }
        if args.shape == "chain":
            run["transitions_ms"] = chain_transitions_ms(nodes)
            run["exit_to_launch_ms"] = chain_exit_to_launch_ms(nodes, tasks)
        runs.append(run)
    print(json.dumps({"register_s": registered, "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
