"""Propeller: orchestration overhead per node for a chain and a fan-out of no-op raw-container tasks (``true``),
beside the time to spawn the same number of bare processes.

Propeller runs as its own process (``aloft-propeller serve``: SQLite workflow store, local blob store, the
local-process plugin). Its events go to a minimal in-process AdminService that acknowledges and counts them (real
admin is measured in its own benchmark), so the figure is the engine's: evaluation rounds, version-checked
persistence of every transition, event delivery over gRPC, and the plugin's process management.

Usage: .venv/bin/python benchmarks/bench_propeller.py [--chain N] [--fanout N] [--concurrency N] [--task-seconds S]

``--task-seconds S`` runs ``sleep S`` instead of ``true``: how soon a longer task's exit is noticed (the bare
spawn figure then includes the sleeps).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import yaml
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2, tasks_pb2, workflow_pb2
from propeller_harness import (
    CountingAdmin,
    InstantPlugin,
    process_cpu_seconds,
    spawn_seconds,
    start_counting_admin,
    time_execution,
    transition_mean_ms,
    transition_totals,
)

from aloft_service.runtime import ListenConfig, start_service
from aloft_testing.scratch import scratch_dir

BIN = Path(sys.executable).parent / "aloft-propeller"
ANCHOR_FANOUT = (
    "target: 1,000-node fan-out durable in <= 4 s (<= 3 ms/node beyond spawn); Prefect 31 ms/task, Dagster 11.6 ms/task"
)
ANCHOR_CHAIN = "target: <= 3 ms per transition; Prefect ~16 ms/task, Dagster 6.9 ms/op, flytekit local 1.6 ms/task"


async def start_in_process(settings: dict[str, Any]) -> Any:
    from aloft_config import load_config
    from aloft_propeller.config import PropellerConfig
    from aloft_propeller.server import build_deps, build_service, run_migrations

    path = Path(settings["stack"]["dataDir"]) / "propeller.yaml"
    path.write_text(yaml.safe_dump(settings))
    config = load_config(str(path), PropellerConfig)
    run_migrations(config)
    return await start_service(build_service(build_deps(config, plugins=InstantPlugin())), ListenConfig())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def task_command(seconds: float) -> list[str]:
    return ["sleep", str(seconds)] if seconds > 0 else ["true"]


def noop_task(seconds: float) -> tasks_pb2.TaskTemplate:
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="b", domain="d", name="noop", version="1"
        ),
        type="raw-container",
        interface=interface_pb2.TypedInterface(),
        container=tasks_pb2.Container(image="alpine:3.19", command=task_command(seconds)),
    )


def closure(shape: str, size: int, seconds: float = 0.0) -> compiler_pb2.CompiledWorkflowClosure:
    noop = noop_task(seconds)
    nodes = []
    for i in range(size):
        node = workflow_pb2.Node(id=f"n{i}", task_node=workflow_pb2.TaskNode(reference_id=noop.id))
        if shape == "chain" and i:
            node.upstream_node_ids.append(f"n{i - 1}")
        nodes.append(node)
    template = workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW, project="b", domain="d", name=shape, version="1"
        ),
        nodes=nodes,
    )
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(template=template), tasks=[compiler_pb2.CompiledTask(template=noop)]
    )


async def wait_ready(client: Any, process: subprocess.Popen[bytes], seconds: float = 180.0) -> None:
    """Until propeller answers (its start takes tens of seconds on a loaded machine); a start that never answers
    stops the benchmark rather than timing executions against a refused port."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("aloft-propeller exited; see its output above")
        try:
            await client.ListExecutions(dataplane_pb2.ListExecutionsRequest(limit=1), timeout=1, wait_for_ready=True)
            return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.05)
    raise SystemExit(f"aloft-propeller did not answer within {seconds:.0f} s")


async def run_execution(
    client: Any, admin: CountingAdmin, name: str, shape: str, size: int, seconds: float = 0.0
) -> float:
    execution_id = identifier_pb2.WorkflowExecutionIdentifier(project="b", domain="d", name=name)
    request = dataplane_pb2.CreateExecutionRequest(id=execution_id, compiled_closure=closure(shape, size, seconds))
    return await time_execution(client, admin, request)


async def main(args: argparse.Namespace) -> int:
    admin, admin_service = await start_counting_admin()
    with scratch_dir("bench-propeller-") as tmp:
        port, http_port = free_port(), free_port()
        settings = {
            "propeller": {
                "grpcPort": port,
                "httpPort": http_port,
                "adminEndpoint": f"127.0.0.1:{admin_service.grpc_port}",
            },
            "plugins": {"local-process": {"max-concurrency": args.concurrency}},
            "logger": {"level": "warning"},
            "stack": {"dataDir": tmp},
        }
        config = Path(tmp) / "propeller.yaml"
        config.write_text(yaml.safe_dump(settings))
        in_process = None
        if args.engine_only:
            in_process = await start_in_process(settings)
            port, http_port = in_process.grpc_port, in_process.http_port
            process = subprocess.Popen(["sleep", "3600"])  # noqa: ASYNC220 - placeholder, nothing to watch
        else:
            process = subprocess.Popen([str(BIN), "--config", str(config), "serve"])  # noqa: ASYNC220 - one start
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        client = dataplane_pb2_grpc.DataPlaneServiceStub(channel)
        try:
            await wait_ready(client, process)
            await run_execution(client, admin, "warmup", "fanout", 5)
            seconds = args.task_seconds
            before = await asyncio.to_thread(transition_totals, http_port)
            cpu_before = process_cpu_seconds(process.pid) if in_process is None else None
            chain_cpu_before = time.process_time()
            chain = [
                await run_execution(client, admin, f"chain-{i}", "chain", args.chain, seconds)
                for i in range(args.rounds)
            ]
            transition = transition_mean_ms(before, await asyncio.to_thread(transition_totals, http_port))
            chain_cpu = _cpu_per_node(cpu_before, process.pid, args.chain * args.rounds)
            chain_process_cpu = (time.process_time() - chain_cpu_before) / (args.chain * args.rounds) * 1000
            fanout_cpu_before = time.process_time()
            fanout = [
                await run_execution(client, admin, f"fanout-{i}", "fanout", args.fanout, seconds)
                for i in range(args.rounds)
            ]
            fanout_cpu = (time.process_time() - fanout_cpu_before) / (args.fanout * args.rounds) * 1000
        finally:
            await channel.close()
            process.terminate()
            process.wait(timeout=30)
            if in_process is not None:
                await in_process.stop(grace=0.5)
    await admin_service.stop(grace=0.5)

    chain_spawn = spawn_seconds(args.chain, 1, task_command(args.task_seconds))
    fanout_spawn = spawn_seconds(args.fanout, 2, task_command(args.task_seconds))
    chain_s, fanout_s = statistics.median(chain), statistics.median(fanout)
    print(f"{args.chain}-node chain of no-op containers: {chain_s:.2f} s median over {args.rounds}")
    print(f"  bare spawn of {args.chain} processes, sequential: {chain_spawn:.2f} s")
    print(f"  overhead per node: {(chain_s - chain_spawn) / args.chain * 1000:.1f} ms   ({ANCHOR_CHAIN})")
    print(f"{args.fanout}-node fan-out of no-op containers: {fanout_s:.2f} s median over {args.rounds}")
    print(f"  bare spawn of {args.fanout} processes, 2 threads: {fanout_spawn:.2f} s")
    print(f"  overhead per node: {(fanout_s - fanout_spawn) / args.fanout * 1000:.1f} ms   ({ANCHOR_FANOUT})")
    chain_ms = (chain_s - chain_spawn) / args.chain * 1000
    figure = f"{args.chain}-node chain, engine only (stub admin), per node beyond spawn"
    print(f"TABLE {figure} | {chain_ms:.1f} ms | <= 3 ms")
    if transition is not None:
        print(f"  transition latency (propeller's transition_latency_ms, mean): {transition:.2f} ms   (target <= 3 ms)")
        figure = f"{args.chain}-node chain, engine only (stub admin), transition latency (propeller's metric)"
        print(f"TABLE {figure} | {transition:.2f} ms | <= 3 ms")
    if chain_cpu is not None:
        own, children = chain_cpu
        print(f"  propeller CPU per chain node: {own:.2f} ms (its reaped children, the launchers: {children:.2f} ms)")
    if in_process is not None:  # the engine, the stub admin and the client in this process: their CPU together
        print(f"  this process's CPU per chain node (engine, stub admin, client): {chain_process_cpu:.3f} ms")
        print(f"  this process's CPU per fan-out node (engine, stub admin, client): {fanout_cpu:.3f} ms")
    print(f"TABLE {args.fanout:,}-node fan-out, engine only (stub admin) | {fanout_s:.2f} s | <= 4 s")
    print(f"events acknowledged by the admin stub: {admin.events}")
    return 0


def _cpu_per_node(before: tuple[float, float] | None, pid: int, nodes: int) -> tuple[float, float] | None:
    """Propeller's own CPU and its reaped children's, in ms per node, since ``before`` (None when in process)."""
    if before is None:
        return None
    after = process_cpu_seconds(pid)
    return (after[0] - before[0]) / nodes * 1000, (after[1] - before[1]) / nodes * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--task-seconds", type=float, default=0.0, help="each task runs `sleep S` (default: `true`)")
    parser.add_argument("--concurrency", type=int, default=16, help="plugins.local-process.max-concurrency")
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="run propeller in-process with a plugin that succeeds at once (no processes): the engine's own cost",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
