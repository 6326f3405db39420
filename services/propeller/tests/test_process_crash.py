"""Crash safety of the real process: ``aloft-propeller serve`` (real local-process plugin running ``sh -c`` raw
containers) is killed with SIGKILL while 20 executions run, then restarted on the same store. Every execution
must succeed and no task attempt may run twice; the tasks themselves count their runs in side-effect files."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import yaml
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.core import compiler_pb2, identifier_pb2

from aloft_testing.servers import free_port

BIN = Path(sys.executable).parent / "aloft-propeller"
EXECUTIONS = 20


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(BIN), "--config", str(config), "serve"], stdout=out, stderr=out)


async def _ready(client: dataplane_pb2_grpc.DataPlaneServiceStub, process: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        assert process.poll() is None, "propeller exited"
        try:
            await client.ListExecutions(dataplane_pb2.ListExecutionsRequest(limit=1), timeout=1)
            return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.05)
    raise AssertionError("propeller did not start")


async def test_sigkill_mid_run_then_restart(
    tmp_path: Path,
    fake_admin: tuple[Any, int],
    chained_raw_closure: Callable[[Path], compiler_pb2.CompiledWorkflowClosure],
    chained_runs: Any,
) -> None:
    side_effects = tmp_path / "side-effects"
    side_effects.mkdir()
    grpc_port = free_port()
    settings = {
        "propeller": {
            "workers": 4,
            "grpcPort": grpc_port,
            "httpPort": free_port(),
            "adminEndpoint": f"127.0.0.1:{fake_admin[1]}",
            "downstream-eval-duration": "300ms",
        },
        "plugins": {"local-process": {"max-concurrency": EXECUTIONS, "kill-grace-period": "1s"}},
        "storage": {"type": "local", "local": {"root": str(tmp_path / "blobs")}},
        "stack": {"dataDir": str(tmp_path / "data")},
    }
    config = tmp_path / "propeller.yaml"
    config.write_text(yaml.safe_dump(settings))
    log = tmp_path / "propeller.log"
    closure = chained_raw_closure(side_effects)

    process = _start(config, log)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
    client = dataplane_pb2_grpc.DataPlaneServiceStub(channel)
    try:
        await _ready(client, process)
        ids = []
        for x in range(EXECUTIONS):
            execution_id = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=f"crash-{x}")
            await chained_runs.create(client, closure, execution_id, x * 10)
            ids.append(execution_id)
        while len(list(side_effects.iterdir())) < EXECUTIONS // 2:
            await asyncio.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process = _start(config, log)
        await _ready(client, process)
        for execution_id in ids:
            status = await chained_runs.wait_terminal(client, execution_id)
            assert status.phase == 4, (status, log.read_text()[-3000:])
        runs = {path.name: path.read_text().count("run") for path in side_effects.iterdir()}
        assert len(runs) == 2 * EXECUTIONS
        assert {name: n for name, n in runs.items() if n != 1} == {}
    finally:
        await channel.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
