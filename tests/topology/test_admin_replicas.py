"""Two admin replicas on one PostgreSQL: CreateExecution goes to both alternately while the data plane is still down
(every hand-off is left pending for the repair loop, which only the replica holding the repair lock runs); the
replica leading the repair loop is killed with SIGKILL mid-load, so the other must take the lead and hand off what
both recorded; then the data plane comes up. Every execution created through either
replica must run exactly once (the task counts its runs) and succeed, and the data plane must hold each once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.admin import execution_pb2, project_pb2
from flyteidl.core import execution_pb2 as core_execution
from flyteidl.core import literals_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_testing.postgres import drop_database, fresh_database
from aloft_testing.servers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

EXECUTIONS = 30
WF = core_execution.WorkflowExecution
LEADS = "now leads aloft-admin/handoff-repair"


def _leads(processes: Any, replica: int) -> bool:
    return LEADS in (processes.logs / f"admin-{replica + 1}.log").read_text(errors="replace")


def _repair_leader(processes: Any) -> int:
    for _ in range(300):
        leading = [replica for replica in (0, 1) if _leads(processes, replica)]
        if leading:
            assert len(leading) == 1, "both replicas lead the repair loop"
            return leading[0]
        time.sleep(0.1)
    raise AssertionError("no admin replica leads the hand-off repair loop")


def test_two_admins_one_database_every_execution_runs_once(
    tmp_path: Path, processes: Any, counting_workflow: Callable[..., Any]
) -> None:
    side_effects = tmp_path / "side-effects"
    side_effects.mkdir()
    names = ("admin-1", "admin-2", "plane")
    ports = {f"{n}_{kind}": free_port() for n in names for kind in ("grpc", "http")}
    control_db, plane_db = fresh_database(), fresh_database()
    storage = {"type": "local", "local": {"root": str(tmp_path / "blobs")}}
    plane = {"name": "plane", "endpoint": f"127.0.0.1:{ports['plane_grpc']}"}

    def admin_config(replica: str) -> dict[str, Any]:
        return {
            "stack": {"dataDir": str(tmp_path / replica)},
            "database": {"url": control_db.sync_url},
            "storage": storage,
            "admin": {
                "grpcPort": ports[f"{replica}_grpc"],
                "httpPort": ports[f"{replica}_http"],
                "handoffRepairInterval": "300ms",
                "dataPlanes": [plane],
            },
        }

    channels = []
    try:
        processes.start("admin-1", "admin", admin_config("admin-1"), ports["admin-1_grpc"])
        processes.start("admin-2", "admin", admin_config("admin-2"), ports["admin-2_grpc"])
        channels = [grpc.insecure_channel(f"127.0.0.1:{ports[f'admin-{i}_grpc']}") for i in (1, 2)]
        admins = [admin_pb2_grpc.AdminServiceStub(channel) for channel in channels]
        admins[0].RegisterProject(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="p", name="p")))
        lp_id = counting_workflow(admins[0], "p", "development", side_effects)

        leader = _repair_leader(processes)
        survivor = 1 - leader
        ids = []
        for x in range(EXECUTIONS):
            if x == EXECUTIONS // 2:
                processes.kill(f"admin-{leader + 1}")  # mid-load: the other replica must take over the repairs
            admin = admins[x % 2] if x < EXECUTIONS // 2 else admins[survivor]
            inputs = literals_pb2.LiteralMap()
            inputs.literals["x"].scalar.primitive.integer = x
            created = admin.CreateExecution(
                execution_pb2.ExecutionCreateRequest(
                    project="p",
                    domain="development",
                    name=f"rep{x}",
                    spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
                    inputs=inputs,
                )
            )
            ids.append(created.id)

        processes.start(
            "plane",
            "propeller",
            {
                "stack": {"dataDir": str(tmp_path / "plane")},
                "storage": storage,
                "propeller": {
                    "grpcPort": ports["plane_grpc"],
                    "httpPort": ports["plane_http"],
                    "cluster-id": "plane",
                    "adminEndpoint": f"127.0.0.1:{ports[f'admin-{survivor + 1}_grpc']}",
                    "downstream-eval-duration": "500ms",
                    "database": {"url": plane_db.sync_url},
                },
                "plugins": {"local-process": {"max-concurrency": 16}},
            },
            ports["plane_grpc"],
        )
        for wid in ids:
            for _ in range(1800):
                got = admins[survivor].GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
                if got.closure.phase in (WF.SUCCEEDED, WF.FAILED, WF.ABORTED):
                    break
                time.sleep(0.1)
            assert got.closure.phase == WF.SUCCEEDED, (wid.name, got.closure, processes.logs)

        assert _leads(processes, survivor)  # it took over the repair loop
        runs = {path.name: path.read_text().count("run") for path in side_effects.iterdir()}
        assert len(runs) == EXECUTIONS and {n: c for n, c in runs.items() if c != 1} == {}
        with grpc.insecure_channel(f"127.0.0.1:{ports['plane_grpc']}") as channel:
            listed = dataplane_pb2_grpc.DataPlaneServiceStub(channel).ListExecutions(
                dataplane_pb2.ListExecutionsRequest(limit=1000)
            )
        assert sorted(e.id.name for e in listed.executions) == sorted(wid.name for wid in ids)
    finally:
        for channel in channels:
            channel.close()
        processes.stop_all()
        drop_database(control_db)
        drop_database(plane_db)
