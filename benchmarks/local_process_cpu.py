"""The local-process plugin's own CPU per attempt of a no-op raw container (``true``), driven as the engine drives it:
launch, wait for the exit wake-up, the terminal look, finalize, one attempt after another (a chain's pattern).

Prints the event loop's CPU in the plugin's ``handle``/``finalize`` per attempt (``time.thread_time`` of the loop's
thread: the part of a chain node's critical path the plugin adds on the loop) and the whole process's CPU (spawn
threads included), as medians are noisy on a shared machine: run it for two trees at the same time and compare.
Not a ``bench_*`` script (``make bench`` does not run it); no services, a local blob store in a temporary directory.

Usage: .venv/bin/python benchmarks/local_process_cpu.py [ATTEMPTS]
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

from flyteidl.core import identifier_pb2, interface_pb2, tasks_pb2

from aloft_propeller.config import LocalProcessConfig, PluginsConfig, PropellerConfig
from aloft_propeller.plugins.base import TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_service.runtime import StackConfig
from aloft_storage import BlobStore, StorageConfig, create_blob_store

WARM_UP = 20
TEMPLATE = tasks_pb2.TaskTemplate(
    id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", domain="d", name="noop", version="1"),
    type="raw-container",
    interface=interface_pb2.TypedInterface(),
    container=tasks_pb2.Container(image="alpine:3.19", command=["true"]),
)


def attempt_context(blobs: BlobStore, index: int) -> TaskExecutionContext:
    execution = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="e")
    node = identifier_pb2.NodeExecutionIdentifier(node_id=f"n{index}", execution_id=execution)
    node_dir = blobs.uri("metadata", "propeller", "p", "d", "e", f"n{index}")
    return TaskExecutionContext(
        task_execution_id=identifier_pb2.TaskExecutionIdentifier(task_id=TEMPLATE.id, node_execution_id=node),
        unique_id=f"e-n{index}-0",
        template=TEMPLATE,
        inputs_uri=f"{node_dir}/inputs.pb",
        output_prefix=f"{node_dir}/0",
        raw_output_prefix=blobs.uri("raw", "e"),
        checkpoint_prefix=f"{node_dir}/0/_flytecheckpoints",
        prev_checkpoint_prefix="",
        blobs=blobs,
        attempt=0,
        envs={},
        workflow_name="w",
        launch_plan_name="w",
    )


async def run_attempt(plugin: LocalProcessPlugin, ctx: TaskExecutionContext, exited: asyncio.Event) -> float:
    """One attempt from launch to finalize; returns the loop thread's CPU seconds spent in the plugin."""
    spent = 0.0
    exited.clear()
    while True:
        before = time.thread_time()
        answer = await plugin.handle(ctx)
        spent += time.thread_time() - before
        if answer.info.phase.is_terminal:
            break
        await exited.wait()
        exited.clear()
    if answer.info.phase.name != "SUCCESS":
        raise SystemExit(f"attempt {ctx.unique_id} ended {answer.info.phase.name}: {answer.info.reason}")
    before = time.thread_time()
    await plugin.finalize(ctx)
    return spent + time.thread_time() - before


async def main(attempts: int) -> None:
    sys.setswitchinterval(0.001)  # as `aloft-propeller serve` sets it
    with tempfile.TemporaryDirectory(prefix="local-process-cpu-") as tmp:
        storage = StorageConfig.model_validate({"type": "local", "local": {"root": f"{tmp}/blobs"}})
        blobs = create_blob_store(storage)
        config = PropellerConfig(
            stack=StackConfig(dataDir=str(Path(tmp) / "stack")),
            storage=storage,
            plugins=PluginsConfig(local_process=LocalProcessConfig.model_validate({})),
        )
        plugin = LocalProcessPlugin(config, blobs)
        exited = asyncio.Event()
        plugin.set_exit_listener(lambda _node: exited.set())
        for index in range(WARM_UP):
            await run_attempt(plugin, attempt_context(blobs, index), exited)
        loop_cpu, wall, process = 0.0, time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        for index in range(WARM_UP, WARM_UP + attempts):
            loop_cpu += await run_attempt(plugin, attempt_context(blobs, index), exited)
        end = resource.getrusage(resource.RUSAGE_SELF)
        process_cpu = end.ru_utime + end.ru_stime - process.ru_utime - process.ru_stime
        wall = time.perf_counter() - wall
    print(
        f"local-process, {attempts} attempts of `true` one after another: per attempt, the loop's CPU in the plugin "
        f"{loop_cpu / attempts * 1e6:.0f} µs, the process's CPU {process_cpu / attempts * 1e6:.0f} µs, "
        f"wall {wall / attempts * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
