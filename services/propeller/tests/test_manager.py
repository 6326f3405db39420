"""``aloft-propeller manager`` as a real process on PostgreSQL: it starts hash shards, routes admin's calls to the
owning shard, restarts a shard killed with SIGKILL, and a restart of the manager with another ``shard-count``
re-divides the running workflows. Every shard logs each round it evaluates (process, shard, start, end); the test
checks from those records that no workflow was ever evaluated by two processes at once and that each round ran in
the shard owning the workflow, and from the tasks' side-effect files that no attempt ran twice."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from aloft.dataplane.v1 import dataplane_pb2_grpc
from flyteidl.core import compiler_pb2, identifier_pb2

from aloft_propeller.config import ShardConfig
from aloft_propeller.sharding.strategy import build_shard_strategy
from aloft_propeller.store.base import ExecutionKey
from aloft_testing.ports import free_ports
from aloft_testing.postgres import PgDatabase
from aloft_testing.servers import free_port

pytestmark = pytest.mark.postgres

BIN = Path(sys.executable).parent / "aloft-propeller"
PROJECTS = ("flytesnacks", "p1", "p2")
EXECUTIONS = 12
SECOND_WAVE = 6
ROUND = re.compile(r"round (\S+)/(\S+)/(\S+) shard=(\w+)-(\d+)/(\d+) pid=(\d+) start=([\d.]+) end=([\d.]+)")
SUCCEEDED = 4


def _settings(tmp_path: Path, postgres_db: PgDatabase, admin_port: int, ports: tuple[int, int], count: int) -> Path:
    settings = {
        "propeller": {
            "workers": 4,
            "grpcPort": ports[0],
            "httpPort": ports[1],
            "adminEndpoint": f"127.0.0.1:{admin_port}",
            "downstream-eval-duration": "300ms",
            "workflow-reeval-duration": "2s",
        },
        "manager": {
            "shard": {"type": "Hash", "shard-count": count},
            # picked here, outside the ephemeral range, rather than by the manager from it (aloft_testing.ports)
            "shard-grpc-port-start": free_ports(count),
            "shard-http-port-start": free_ports(count),
            "scan-interval": "200ms",
            "restart-backoff": {"base-delay": "200ms", "max-delay": "2s"},
        },
        "database": {"url": postgres_db.sync_url},
        "plugins": {"local-process": {"max-concurrency": EXECUTIONS, "kill-grace-period": "1s"}},
        "storage": {"type": "local", "local": {"root": str(tmp_path / "blobs")}},
        "stack": {"dataDir": str(tmp_path / "data")},
        "logger": {"level": "debug"},
    }
    config = tmp_path / "propeller.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config


def _start_manager(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(BIN), "--config", str(config), "manager"], stdout=out, stderr=out)


def _http_json(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return json.loads(reply.read())


def _metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return bytes(reply.read()).decode()


async def _wait_shards_running(http_port: int, manager: subprocess.Popen[bytes], count: int) -> list[dict[str, Any]]:
    for _ in range(600):
        assert manager.poll() is None, "the manager exited"
        try:
            shards: list[dict[str, Any]] = (await asyncio.to_thread(_http_json, http_port, "/shards"))["shards"]
        except OSError:
            shards = []
        if len(shards) == count and all(s["state"] == "running" for s in shards):
            return shards
        await asyncio.sleep(0.1)
    raise AssertionError("the manager's shards did not all start")


async def _wait_side_effects(side_effects: Path, at_least: int) -> None:
    for _ in range(1200):
        if len(await asyncio.to_thread(lambda: list(side_effects.iterdir()))) >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} task runs happened")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _rounds(log: Path) -> dict[ExecutionKey, list[tuple[int, int, int, float, float]]]:
    """Per execution: (pid, shard index, shard count, start, end) of every round any shard evaluated."""
    found: dict[ExecutionKey, list[tuple[int, int, int, float, float]]] = defaultdict(list)
    for match in ROUND.finditer(log.read_text(errors="replace")):
        project, domain, name, _, index, count, pid, start, end = match.groups()
        found[ExecutionKey(project, domain, name)].append((int(pid), int(index), int(count), float(start), float(end)))
    return found


async def test_manager_restarts_and_reshards_without_double_evaluation(
    tmp_path: Path,
    fake_admin: tuple[Any, int],
    postgres_db: PgDatabase,
    chained_raw_closure: Callable[..., compiler_pb2.CompiledWorkflowClosure],
    chained_runs: Any,
) -> None:
    side_effects = tmp_path / "side-effects"
    side_effects.mkdir()
    ports = (free_port(), free_port())
    config = _settings(tmp_path, postgres_db, fake_admin[1], ports, count=2)
    log = tmp_path / "manager.log"
    closure = chained_raw_closure(side_effects)
    # The second wave's tasks run long enough that its second tasks can only start after the manager has been
    # restarted with three shards, however slowly the old shards stop on a loaded machine.
    long_closure = chained_raw_closure(side_effects, sleep_seconds=8)

    manager = _start_manager(config, log)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{ports[0]}")
    client = dataplane_pb2_grpc.DataPlaneServiceStub(channel)
    try:
        shards = await _wait_shards_running(ports[1], manager, 2)
        ids: list[identifier_pb2.WorkflowExecutionIdentifier] = []

        async def create(count: int, closure: compiler_pb2.CompiledWorkflowClosure) -> None:
            for x in range(len(ids), len(ids) + count):
                project = PROJECTS[x % len(PROJECTS)]
                execution_id = identifier_pb2.WorkflowExecutionIdentifier(
                    project=project, domain="development", name=f"m{x}"
                )
                await chained_runs.create(client, closure, execution_id, x * 10)
                ids.append(execution_id)

        await create(EXECUTIONS, closure)

        # kill -9 one managed shard mid-run: the manager starts it again and it adopts its running tasks.
        await _wait_side_effects(side_effects, EXECUTIONS // 3)
        victim = shards[0]
        os.kill(victim["pid"], signal.SIGKILL)
        for _ in range(600):
            restarted = (await asyncio.to_thread(_http_json, ports[1], "/shards"))["shards"][0]
            if restarted["restarts"] == 1 and restarted["state"] == "running":
                break
            await asyncio.sleep(0.1)
        assert restarted["pid"] != victim["pid"] and restarted["restarts"] == 1, restarted

        for _ in range(100):  # the shards' metrics are collected every scan-interval
            text = await asyncio.to_thread(_metrics_text, ports[1])
            if re.search(r'flyte:propeller:all:free_workers_count\{shard="1"\}', text):
                break
            await asyncio.sleep(0.1)
        assert re.search(r'flyte:propeller:all:free_workers_count\{shard="1"\}', text), text[-3000:]
        assert "flyte:propeller_manager:pods_created_count_total 3.0" in text  # 2 shards + 1 restart

        # Stop the manager mid-run (a second wave has just started its first tasks, so work surely remains) and
        # start it again with three shards: the running workflows are re-divided.
        started = len(await asyncio.to_thread(lambda: list(side_effects.iterdir())))
        await create(SECOND_WAVE, long_closure)
        await _wait_side_effects(side_effects, started + SECOND_WAVE)
        _stop(manager)
        config = _settings(tmp_path, postgres_db, fake_admin[1], ports, count=3)
        manager = _start_manager(config, log)
        await _wait_shards_running(ports[1], manager, 3)

        for execution_id in ids:
            status = await chained_runs.wait_terminal(client, execution_id)
            assert status.phase == SUCCEEDED, (status, log.read_text()[-3000:])
    finally:
        await channel.close()
        _stop(manager)

    runs = {path.name: path.read_text().count("run") for path in side_effects.iterdir()}
    assert len(runs) == 2 * (EXECUTIONS + SECOND_WAVE)
    assert {name: n for name, n in runs.items() if n != 1} == {}

    rounds = _rounds(log)
    assert set(rounds) == {ExecutionKey(i.project, i.domain, i.name) for i in ids}
    layouts = set()
    for key, evaluated in rounds.items():
        for pid, index, count, _, _ in evaluated:
            layouts.add(count)
            owner = build_shard_strategy(ShardConfig(type="hash", shard_count=count, shard_index=index))
            assert owner.owns(key), f"{key} evaluated by shard {index}/{count} (pid {pid}), which does not own it"
        ordered = sorted(evaluated, key=lambda r: r[3])
        for before, after in itertools.pairwise(ordered):
            if before[0] != after[0]:
                assert before[4] <= after[3], f"{key} evaluated by pids {before[0]} and {after[0]} at once"
    assert layouts == {2, 3}
    assert len({pid for evaluated in rounds.values() for pid, *_ in evaluated}) >= 4  # 2 + restart + new layout


def test_invalid_shard_mapping_stops_start_up(tmp_path: Path) -> None:
    config = tmp_path / "propeller.yaml"
    config.write_text(
        yaml.safe_dump(
            {"manager": {"shard": {"type": "Project", "per-shard-mapping": [{"ids": ["*"]}, {"ids": ["*"]}]}}}
        )
    )
    result = subprocess.run([str(BIN), "--config", str(config), "manager"], capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"manager.shard" in result.stderr and b"wildcard '*' is in per-shard-mapping[0]" in result.stderr
