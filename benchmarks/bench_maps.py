"""Propeller: a 1,000-element map task (ArrayNode) and a 500-node dynamic fan-out of no-op raw-container tasks
(``true``): wall time and orchestration overhead per node beyond spawning the same number of bare processes.

Propeller runs in this process (SQLite workflow store, local blob store, the real local-process plugin for every
``true`` task); only the dynamic parent task is answered by a small in-process plugin that writes the DynamicJobSpec
(futures.pb) a flytekit ``@dynamic`` task would, so the figure is the engine's: array sub-node bookkeeping in one
compact state per round, compiling + running the dynamic workflow, events over gRPC to a counting AdminService.

Usage: .venv/bin/python benchmarks/bench_maps.py [--map N] [--dynamic N] [--rounds R] [--concurrency N] [--engine-only]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import yaml
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.core import (
    compiler_pb2,
    dynamic_job_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from google.protobuf import wrappers_pb2
from propeller_harness import CountingAdmin, InstantPlugin, spawn_seconds, start_counting_admin, time_execution

from aloft_compiler import compile_workflow
from aloft_service.runtime import ListenConfig, start_service
from aloft_testing.scratch import scratch_dir

ANCHOR = (
    "target: <= 3 ms/node beyond spawn (1,000-node fan-out durable in <= 4 s); Prefect 31 ms/task, Dagster 11.6 ms/task"
)


def _id(kind: int, name: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(resource_type=kind, project="b", domain="d", name=name, version="1")


INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
NOOP = tasks_pb2.TaskTemplate(
    id=_id(identifier_pb2.TASK, "noop"),
    type="raw-container",
    interface=interface_pb2.TypedInterface(),
    container=tasks_pb2.Container(image="alpine:3.19", command=["true"]),
)
NOOP_X = tasks_pb2.TaskTemplate(
    id=_id(identifier_pb2.TASK, "noop-x"),
    type="raw-container",
    interface=interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)})
    ),
    container=tasks_pb2.Container(image="alpine:3.19", command=["true"]),
)
FANOUT = tasks_pb2.TaskTemplate(
    id=_id(identifier_pb2.TASK, "fanout"),
    type="bench-dynamic",
    interface=interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={"n": interface_pb2.Variable(type=INT)})
    ),
)


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def map_closure(size: int) -> tuple[compiler_pb2.CompiledWorkflowClosure, literals_pb2.LiteralMap]:
    """``map_task(noop_x)(x=xs)`` with the original sub-node interface (raw containers get one element each)."""
    sub = workflow_pb2.Node(id="noop", task_node=workflow_pb2.TaskNode(reference_id=NOOP_X.id))
    array = workflow_pb2.ArrayNode(node=sub, is_original_sub_node_interface=wrappers_pb2.BoolValue(value=True))
    node = workflow_pb2.Node(id="n0", array_node=array)
    node.inputs.add(var="x").binding.promise.CopyFrom(types_pb2.OutputReference(node_id="start-node", var="xs"))
    template = workflow_pb2.WorkflowTemplate(id=_id(identifier_pb2.WORKFLOW, "map"), nodes=[node])
    template.interface.inputs.variables["xs"].type.collection_type.CopyFrom(INT)
    inputs = literals_pb2.LiteralMap()
    inputs.literals["xs"].collection.literals.extend(_int(i) for i in range(size))
    return compile_workflow(template, [], [NOOP_X], []), inputs


def dynamic_closure(size: int) -> tuple[compiler_pb2.CompiledWorkflowClosure, literals_pb2.LiteralMap]:
    node = workflow_pb2.Node(id="n0", task_node=workflow_pb2.TaskNode(reference_id=FANOUT.id))
    node.inputs.add(var="n").binding.scalar.primitive.integer = size
    template = workflow_pb2.WorkflowTemplate(id=_id(identifier_pb2.WORKFLOW, "dynamic"), nodes=[node])
    return compile_workflow(template, [], [FANOUT], []), literals_pb2.LiteralMap()


class DynamicParentPlugin:
    """What a flytekit ``@dynamic`` task does: write futures.pb with ``n`` no-op task nodes, then succeed."""

    id = "bench-dynamic"
    task_types = ("bench-dynamic",)

    async def handle(self, ctx: Any) -> Any:
        from aloft_propeller.plugins.base import Phase, PhaseInfo, PluginAnswer

        inputs = await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap)
        job = dynamic_job_pb2.DynamicJobSpec(tasks=[NOOP])
        for i in range(inputs.literals["n"].scalar.primitive.integer):
            job.nodes.add(id=f"dn{i}", task_node=workflow_pb2.TaskNode(reference_id=NOOP.id))
        await ctx.blobs.write_proto(f"{ctx.output_prefix}/futures.pb", job)
        return PluginAnswer(PhaseInfo(Phase.SUCCESS))

    async def abort(self, ctx: Any, reason: str) -> None:
        return None

    async def finalize(self, ctx: Any) -> None:
        return None


class Plugins:
    def __init__(self, real: Any) -> None:
        self._real, self._dynamic = real, DynamicParentPlugin()

    def for_task_type(self, task_type: str) -> Any:
        return self._dynamic if task_type == "bench-dynamic" else self._real.for_task_type(task_type)

    def plugins(self) -> list[Any]:
        """Every plugin, as the real registry lists them: the controller wires process exits to wake-ups through
        this (without it every exit waited for a poll, unlike in propeller as deployed)."""
        listing = getattr(self._real, "plugins", None)
        return [*(listing() if callable(listing) else [self._real]), self._dynamic]


async def start_propeller(settings: dict[str, Any], engine_only: bool) -> Any:
    from aloft_config import load_config
    from aloft_propeller.config import PropellerConfig
    from aloft_propeller.plugins.registry import build_plugin_registry
    from aloft_propeller.server import build_deps, build_service, run_migrations
    from aloft_storage import create_blob_store

    path = Path(settings["stack"]["dataDir"]) / "propeller.yaml"
    path.write_text(yaml.safe_dump(settings))
    config = load_config(str(path), PropellerConfig)
    run_migrations(config)
    blobs = create_blob_store(config.storage, base_dir=config.stack.data_path())
    plugins = Plugins(InstantPlugin() if engine_only else build_plugin_registry(config, blobs))
    service = await start_service(build_service(build_deps(config, plugins=plugins, blobs=blobs)), ListenConfig())
    return service, blobs


async def run_execution(
    client: Any, admin: CountingAdmin, blobs: Any, name: str, built: tuple[Any, literals_pb2.LiteralMap]
) -> tuple[float, float]:
    """Wall seconds of the execution and this process's CPU seconds meanwhile (propeller, the stub admin and the
    client; the tasks' processes are not counted): on a shared machine CPU is steadier than wall time."""
    closure, inputs = built
    inputs_uri = blobs.uri("inputs", name, "inputs.pb")
    await blobs.write_proto(inputs_uri, inputs)
    execution_id = identifier_pb2.WorkflowExecutionIdentifier(project="b", domain="d", name=name)
    request = dataplane_pb2.CreateExecutionRequest(id=execution_id, compiled_closure=closure, inputs_uri=inputs_uri)
    cpu = time.process_time()
    wall = await time_execution(client, admin, request, poll=0.01)
    return wall, time.process_time() - cpu


async def main(args: argparse.Namespace) -> int:
    admin, admin_service = await start_counting_admin()
    with scratch_dir("bench-maps-") as tmp:
        settings = {
            "propeller": {"adminEndpoint": f"127.0.0.1:{admin_service.grpc_port}"},
            "plugins": {"local-process": {"max-concurrency": args.concurrency}},
            "logger": {"level": "warning"},
            "stack": {"dataDir": tmp},
        }
        propeller, blobs = await start_propeller(settings, args.engine_only)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{propeller.grpc_port}")
        client = dataplane_pb2_grpc.DataPlaneServiceStub(channel)
        try:
            await run_execution(client, admin, blobs, "warmup-map", map_closure(5))
            await run_execution(client, admin, blobs, "warmup-dyn", dynamic_closure(5))
            maps = [
                await run_execution(client, admin, blobs, f"map-{i}", map_closure(args.map)) for i in range(args.rounds)
            ]
            dynamics = [
                await run_execution(client, admin, blobs, f"dyn-{i}", dynamic_closure(args.dynamic))
                for i in range(args.rounds)
            ]
        finally:
            await channel.close()
            await propeller.stop(grace=0.5)
    await admin_service.stop(grace=0.5)

    kind = "instant no-op tasks (engine only)" if args.engine_only else "no-op containers"
    for label, size, runs in (
        (f"{args.map}-element map task", args.map, maps),
        (f"{args.dynamic}-node dynamic fan-out", args.dynamic, dynamics),
    ):
        spawn = 0.0 if args.engine_only else spawn_seconds(size, 2)
        median = statistics.median(wall for wall, _ in runs)
        cpu = statistics.median(cpu for _, cpu in runs)
        print(f"{label} of {kind}: {median:.2f} s median over {args.rounds}")
        print(f"  CPU of the engine's process per node: {cpu / size * 1000:.2f} ms (median)")
        print(f"  bare spawn of {size} processes, 2 threads: {spawn:.2f} s")
        print(f"  overhead per node: {(median - spawn) / size * 1000:.1f} ms   ({ANCHOR})")
        print(f"TABLE {label}, stub admin, per node beyond spawn | {(median - spawn) / size * 1000:.1f} ms | <= 3 ms")
    print(f"events acknowledged by the admin stub: {admin.events}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--map", type=int, default=1000)
    parser.add_argument("--dynamic", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16, help="plugins.local-process.max-concurrency")
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="a plugin that succeeds at once (no processes): the engine's own cost",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
