"""Production topology on one machine, all real processes on PostgreSQL: admin + datacatalog and two data planes,
each an ``aloft-propeller manager`` with its own shards and workflow store (cluster ``a``: 2 hash shards; cluster
``b``: project shards ``[["flytesnacks"], ["*"]]``), sharing one blob store.

- 50 executions across projects and domains, registered and launched through admin's API: ``flytesnacks/production``
  is labelled ``b`` with the EXECUTION_CLUSTER_LABEL attribute, ``p1/staging`` executions ask for ``b`` in their
  spec, everything else takes the default label ``a``. Each must run on the right cluster and shard (the shards log
  every round they evaluate), none twice (the tasks count their runs in side-effect files), all SUCCEEDED, and
  GetExecution names the cluster.
- Mid-run one managed shard of cluster ``a`` is killed with SIGKILL: its manager restarts it and its workflows
  complete without any attempt running twice.
- Unmodified flytekit (``pyflyte run --remote --execution-cluster-label b``) lands on cluster ``b``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from flyteidl.admin import common_pb2, execution_pb2, matchable_resource_pb2, project_pb2
from flyteidl.admin import project_domain_attributes_pb2 as pda
from flyteidl.core import execution_pb2 as core_execution
from flyteidl.core import literals_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_testing.ports import free_ports
from aloft_testing.postgres import PgDatabase, drop_database, fresh_database
from aloft_testing.servers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
PROJECTS = ("flytesnacks", "p1", "p2")
DOMAINS = ("development", "staging", "production")
EXECUTIONS = 50
WF = core_execution.WorkflowExecution
TERMINAL = {WF.SUCCEEDED, WF.FAILED, WF.ABORTED}
SUCCEEDED = WF.SUCCEEDED


def _plane_config(
    plane: str, topology: Any, db: PgDatabase, shard: dict[str, Any], storage: dict[str, Any]
) -> dict[str, Any]:
    """Data plane ``plane``: a propeller manager with its own workflow store, sharing admin's blob store."""
    ports = topology.ports
    return {
        "stack": {"dataDir": str(topology.root / f"plane-{plane}")},
        "storage": storage,
        "propeller": {
            "grpcPort": ports[f"{plane}_grpc"],
            "httpPort": ports[f"{plane}_http"],
            "cluster-id": plane,
            "adminEndpoint": f"127.0.0.1:{ports['admin_grpc']}",
            "datacatalogEndpoint": f"127.0.0.1:{ports['datacatalog_grpc']}",
            "workers": 8,
            "workflow-reeval-duration": "2s",
            "downstream-eval-duration": "500ms",
            "database": {"url": db.sync_url},
        },
        "plugins": {"local-process": {"max-concurrency": 16, "kill-grace-period": "1s"}},
        "manager": {
            "shard": shard,
            "scan-interval": "500ms",
            "restart-backoff": {"base-delay": "200ms"},
            # picked here, outside the ephemeral range, rather than by the manager from it (aloft_testing.ports)
            "shard-grpc-port-start": free_ports(2),
            "shard-http-port-start": free_ports(2),
        },
        "logger": {"level": "debug"},
    }


@pytest.fixture
def topology(tmp_path: Path, processes: Any) -> Iterator[Any]:
    names = ("admin", "datacatalog", "a", "b")
    ports = {f"{n}_{kind}": free_port() for n in names for kind in ("grpc", "http")}
    control_db, a_db, b_db = fresh_database(), fresh_database(), fresh_database()
    running = processes
    running.ports.update(ports)
    shared: dict[str, Any] = {
        "stack": {"dataDir": str(tmp_path / "control")},
        "database": {"url": control_db.sync_url},
        "storage": {
            "type": "local",
            "local": {"root": str(tmp_path / "blobs")},
            "signedUrl": {"baseUrl": f"http://127.0.0.1:{ports['admin_http']}/api/v1/blobs"},
        },
    }
    control = {
        **shared,
        "admin": {"grpcPort": ports["admin_grpc"], "httpPort": ports["admin_http"], "handoffRepairInterval": "1s"},
        "datacatalog": {"grpcPort": ports["datacatalog_grpc"], "httpPort": ports["datacatalog_http"]},
        "clusters": {
            "clusterConfigs": [
                {"name": "a", "endpoint": f"127.0.0.1:{ports['a_grpc']}", "labels": ["a"]},
                {"name": "b", "endpoint": f"127.0.0.1:{ports['b_grpc']}", "labels": ["b"]},
            ],
            "defaultExecutionLabel": "a",
        },
    }
    try:
        running.start("datacatalog", "datacatalog", control, ports["datacatalog_grpc"])
        running.start("admin", "admin", control, ports["admin_grpc"])
        storage = shared["storage"]
        a_config = _plane_config("a", running, a_db, {"type": "Hash", "shard-count": 2}, storage)
        by_project = {"type": "Project", "per-shard-mapping": [{"ids": ["flytesnacks"]}, {"ids": ["*"]}]}
        b_config = _plane_config("b", running, b_db, by_project, storage)
        running.start("a", "propeller", a_config, ports["a_grpc"], command="manager")
        running.start("b", "propeller", b_config, ports["b_grpc"], command="manager")
        running.wait_shards("a", 2)
        running.wait_shards("b", 2)
        yield running
    finally:
        running.stop_all()
        for db in (control_db, a_db, b_db):
            drop_database(db)


def _expected_cluster(project: str, domain: str) -> str:
    return "b" if (project, domain) in (("flytesnacks", "production"), ("p1", "staging")) else "a"


def test_two_data_planes_with_managed_shards(
    topology: Any, tmp_path: Path, counting_workflow: Callable[..., Any], rounds: Callable[[Path], Any]
) -> None:
    side_effects = tmp_path / "side-effects"
    side_effects.mkdir()
    channel = grpc.insecure_channel(f"127.0.0.1:{topology.ports['admin_grpc']}")
    admin = admin_pb2_grpc.AdminServiceStub(channel)
    for project in PROJECTS[1:]:
        admin.RegisterProject(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=project, name=project)))
    admin.UpdateProjectDomainAttributes(
        pda.ProjectDomainAttributesUpdateRequest(
            attributes=pda.ProjectDomainAttributes(
                project="flytesnacks",
                domain="production",
                matching_attributes=matchable_resource_pb2.MatchingAttributes(
                    execution_cluster_label=matchable_resource_pb2.ExecutionClusterLabel(value="b")
                ),
            )
        )
    )
    launch_plans = {(p, d): counting_workflow(admin, p, d, side_effects) for p in PROJECTS for d in DOMAINS}

    names = []
    for x in range(EXECUTIONS):
        project, domain = PROJECTS[x % 3], DOMAINS[(x // 3) % 3]
        spec = execution_pb2.ExecutionSpec(launch_plan=launch_plans[(project, domain)])
        if (project, domain) == ("p1", "staging"):
            spec.execution_cluster_label.value = "b"  # the spec's label overrides (there is no attribute for p1)
        inputs = literals_pb2.LiteralMap()
        inputs.literals["x"].scalar.primitive.integer = 1000 + x
        created = admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=project, domain=domain, name=f"topo{x}", spec=spec, inputs=inputs
            )
        )
        names.append(created.id)

    # SIGKILL one shard of cluster a while tasks run: its manager restarts it and the work completes.
    for _ in range(600):
        if len(list(side_effects.iterdir())) >= 10:
            break
        time.sleep(0.1)
    victim = topology.shards("a")[1]
    os.kill(victim["pid"], signal.SIGKILL)

    for wid in names:
        for _ in range(1800):
            got = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
            if got.closure.phase in TERMINAL:
                break
            time.sleep(0.1)
        assert got.closure.phase == SUCCEEDED, (wid, got.closure, (topology.logs / "a.log").read_text()[-3000:])
        assert got.spec.metadata.system_metadata.execution_cluster == _expected_cluster(wid.project, wid.domain)

    restarted = topology.wait_shards("a", 2)[1]
    assert restarted["restarts"] == 1 and restarted["pid"] != victim["pid"]

    runs = {path.name: path.read_text().count("run") for path in side_effects.iterdir()}
    assert len(runs) == EXECUTIONS and {n: c for n, c in runs.items() if c != 1} == {}

    evaluated = {plane: rounds(topology.logs / f"{plane}.log") for plane in ("a", "b")}
    b_shards = {"flytesnacks": 0}
    for wid in names:
        key = (wid.project, wid.domain, wid.name)
        cluster = _expected_cluster(wid.project, wid.domain)
        other = "b" if cluster == "a" else "a"
        assert key in evaluated[cluster] and key not in evaluated[other], key
        indexes = {index for index, _ in evaluated[cluster][key]}
        assert len(indexes) == 1, (key, evaluated[cluster][key])  # one shard of its cluster evaluated it
        if cluster == "b":
            assert indexes == {b_shards.get(wid.project, 1)}, key
    a_indexes = {index for seen in evaluated["a"].values() for index, _ in seen}
    assert a_indexes == {0, 1}  # both hash shards of a got work
    channel.close()


def test_unmodified_flytekit_lands_on_the_labelled_cluster(topology: Any, rounds: Callable[[Path], Any]) -> None:
    venv = Path(os.environ.get("ALOFT_FLYTEKIT_VENV") or REPO / ".venv-flytekit")
    assert (venv / "bin" / "pyflyte").exists(), "run `make setup` (creates .venv-flytekit)"
    flyte_config = topology.root / "flytekit.yaml"
    flyte_config.write_text(
        yaml.safe_dump({"admin": {"endpoint": f"dns:///127.0.0.1:{topology.ports['admin_grpc']}", "insecure": True}})
    )
    result = subprocess.run(
        [
            str(venv / "bin" / "pyflyte"),
            "--config",
            str(flyte_config),
            "run",
            "--remote",
            "--project",
            "flytesnacks",
            "--domain",
            "development",
            "--execution-cluster-label",
            "b",
            "--wait",
            "flows/basics.py",
            "chain",
            "--x",
            "3",
        ],
        cwd=REPO / "tests" / "e2e",
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ALOFT_FLYTEKIT_VENV": str(venv)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    channel = grpc.insecure_channel(f"127.0.0.1:{topology.ports['admin_grpc']}")
    admin = admin_pb2_grpc.AdminServiceStub(channel)
    listed = admin.ListExecutions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development"), limit=10
        )
    )
    assert len(listed.executions) == 1
    execution = listed.executions[0]
    assert execution.closure.phase == SUCCEEDED, execution.closure
    assert execution.spec.metadata.system_metadata.execution_cluster == "b"
    b_rounds = rounds(topology.logs / "b.log")
    assert {index for index, _ in b_rounds[("flytesnacks", "development", execution.id.name)]} == {0}
    channel.close()
