"""Shard throughput on the real stack: admin + ``aloft-propeller manager`` with 1, 2 and 4 hash shards on PostgreSQL.

For each shard count: 200 no-op workflows (one gate node sleeping 0 s, the output bound to the input) are created
through admin's CreateExecution; the time until admin records all of them SUCCEEDED gives executions/s. Then 200
workflows waiting on a 120 s sleep gate (no task process) are started; the shards' resident memory with all of them
RUNNING, minus before, divided by 200 is the memory per running workflow.

Targets (issue 11): ≥ 1.8 times the throughput from 1 to 2 shards; ≤ 1 MB of propeller memory per running workflow. On a
2-core machine admin, PostgreSQL and every shard share the same two cores, so CPU caps the scaling.

Usage: python benchmarks/bench_shards.py [--workflows N] [--shards 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import yaml
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow
from flyteidl.service import admin_pb2_grpc
from google.protobuf import duration_pb2

from aloft_testing.postgres import drop_database, fresh_database
from aloft_testing.processes import stop_processes, wait_grpc_serving
from aloft_testing.registration import register_workflow_and_launch_plan
from aloft_testing.scratch import scratch_dir
from aloft_testing.servers import free_port

BIN = Path(sys.executable).parent
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
WF = core_execution.WorkflowExecution
PROJECT, DOMAIN = "flytesnacks", "development"


def _start(root: Path, name: str, config: dict[str, Any], command: str, port: int) -> subprocess.Popen[bytes]:
    config_file = root / f"{name}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    log = root / f"{name}.log"
    exe = BIN / ("aloft-propeller" if command == "manager" else "aloft-admin")
    with log.open("ab") as out:
        proc = subprocess.Popen([str(exe), "--config", str(config_file), command], stdout=out, stderr=out)
    wait_grpc_serving(f"127.0.0.1:{port}", proc, log, timeout=120)
    return proc


def _register(admin: admin_pb2_grpc.AdminServiceStub, name: str, gate_seconds: int) -> identifier_pb2.Identifier:
    """A workflow without tasks: a sleep gate of ``gate_seconds`` (0: a no-op node), then ``o0 = x``."""
    wf_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW, project=PROJECT, domain=DOMAIN, name=name, version="1"
    )
    interface = interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)}),
        outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
    )
    x = literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id="start-node", var="x"))
    sleep = core_workflow.SleepCondition(duration=duration_pb2.Duration(seconds=gate_seconds))
    nodes = [core_workflow.Node(id="n0", gate_node=core_workflow.GateNode(sleep=sleep))]
    template = core_workflow.WorkflowTemplate(
        id=wf_id,
        interface=interface,
        nodes=nodes,
        outputs=[literals_pb2.Binding(var="o0", binding=x)],
        metadata=core_workflow.WorkflowMetadata(),
    )
    return register_workflow_and_launch_plan(admin, template, {"x": INT})


def _launch(admin: admin_pb2_grpc.AdminServiceStub, lp_id: identifier_pb2.Identifier, names: list[str]) -> None:
    def one(name: str) -> None:
        inputs = literals_pb2.LiteralMap()
        inputs.literals["x"].scalar.primitive.integer = 1
        admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                name=name,
                spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
                inputs=inputs,
            )
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, names))


def _wait_phase(admin: admin_pb2_grpc.AdminServiceStub, names: list[str], phases: set[int], timeout: float) -> bool:
    """Until every execution in ``names`` is in one of ``phases`` (one filtered list per poll, not one call each)."""
    wanted = set(names)
    filters = ";".join(f"eq(phase,{WF.Phase.Name(phase)})" for phase in phases) if len(phases) == 1 else ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = admin.ListExecutions(
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=10000, filters=filters
            )
        )
        if wanted <= {e.id.name for e in listed.executions if e.closure.phase in phases}:
            return True
        time.sleep(0.2)
    return False


def _shard_pids(http_port: int) -> list[int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/shards", timeout=5) as reply:
        return [int(shard["pid"]) for shard in json.loads(reply.read())["shards"]]


def _shard_rss_bytes(http_port: int) -> int:
    total = 0
    for pid in _shard_pids(http_port):
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024
    return total


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def measure(shards: int, workflows: int, root: Path) -> tuple[float, float, float, float]:
    admin_db, plane_db = fresh_database("aloft_bench"), fresh_database("aloft_bench")
    ports = {k: free_port() for k in ("admin_grpc", "admin_http", "plane_grpc", "plane_http")}
    storage = {"type": "local", "local": {"root": str(root / "blobs")}}
    admin_config = {
        "stack": {"dataDir": str(root / "admin")},
        "database": {"url": admin_db.sync_url},
        "storage": storage,
        "admin": {
            "grpcPort": ports["admin_grpc"],
            "httpPort": ports["admin_http"],
            "dataPlanes": [{"name": "bench", "endpoint": f"127.0.0.1:{ports['plane_grpc']}"}],
        },
        "logger": {"level": "warning"},
    }
    plane_config = {
        "stack": {"dataDir": str(root / "plane")},
        "database": {"url": plane_db.sync_url},
        "storage": storage,
        "propeller": {
            "grpcPort": ports["plane_grpc"],
            "httpPort": ports["plane_http"],
            "cluster-id": "bench",
            "adminEndpoint": f"127.0.0.1:{ports['admin_grpc']}",
        },
        "manager": {"shard": {"type": "Hash", "shard-count": shards}, "scan-interval": "2s"},
        "logger": {"level": "warning"},
    }
    admin_proc = _start(root, "admin", admin_config, "serve", ports["admin_grpc"])
    plane_proc = _start(root, "plane", plane_config, "manager", ports["plane_grpc"])
    channel = grpc.insecure_channel(f"127.0.0.1:{ports['admin_grpc']}")
    try:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        noop, gated = _register(admin, "noop", 0), _register(admin, "gated", 120)
        for _ in range(600):  # the manager's shards serve once its /shards says so
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['plane_http']}/shards", timeout=5) as reply:
                if all(s["state"] == "running" for s in json.loads(reply.read())["shards"]):
                    break
            time.sleep(0.1)
        _launch(admin, noop, ["warmup"])
        _wait_phase(admin, ["warmup"], {WF.SUCCEEDED}, 120)

        names = [f"noop-{i}" for i in range(workflows)]
        shard_pids = _shard_pids(ports["plane_http"])
        cpu_before = _cpu_seconds([admin_proc.pid]), _cpu_seconds(shard_pids)
        started = time.perf_counter()
        _launch(admin, noop, names)
        done = _wait_phase(admin, names, {WF.SUCCEEDED}, 600)
        elapsed = time.perf_counter() - started
        throughput = workflows / elapsed if done else float("nan")
        admin_cpu = (_cpu_seconds([admin_proc.pid]) - cpu_before[0]) / elapsed
        shards_cpu = (_cpu_seconds(shard_pids) - cpu_before[1]) / elapsed

        before = _shard_rss_bytes(ports["plane_http"])
        waiting = [f"gated-{i}" for i in range(workflows)]
        _launch(admin, gated, waiting)
        _wait_phase(admin, waiting, {WF.RUNNING}, 300)
        time.sleep(3)  # a few rounds of every waiting workflow
        per_workflow = (_shard_rss_bytes(ports["plane_http"]) - before) / workflows
        return throughput, per_workflow, admin_cpu, shards_cpu
    finally:
        channel.close()
        stop_processes([admin_proc, plane_proc], grace=60)
        drop_database(admin_db)
        drop_database(plane_db)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--shards", default="1,2,4")
    args = parser.parse_args()
    counts = [int(c) for c in args.shards.split(",")]
    rows = []
    for count in counts:
        with scratch_dir("aloft-bench-shards-") as tmp:
            rows.append((count, *measure(count, args.workflows, Path(tmp))))
    base = rows[0][1]
    print(f"\n{args.workflows} no-op workflows through admin → propeller manager (hash shards, PostgreSQL)")
    print(
        f"  {'shards':>6}  {'workflows/s':>11}  {'vs 1 shard':>10}  {'memory/running workflow':>23}"
        f"  {'admin CPU':>9}  {'shards CPU':>10}"
    )
    for count, throughput, per_workflow, admin_cpu, shards_cpu in rows:
        print(
            f"  {count:>6}  {throughput:>11.1f}  {throughput / base:>9.2f}x  {per_workflow / 1024:>19.1f} KiB"
            f"  {admin_cpu:>8.0%}  {shards_cpu:>10.0%}"
        )
    print("  targets: ≥ 1.8x from 1 to 2 shards; ≤ 1 MB per running workflow")
    print("  CPU columns: cores busy in admin / in all shards while the no-op workflows ran (100% = one core).")
    print("  On 2 cores admin, PostgreSQL and every shard share the CPU: once admin (CreateExecution, events)")
    print("  holds about a core, more shards cannot add throughput.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
