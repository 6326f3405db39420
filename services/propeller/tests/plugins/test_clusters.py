"""The embedded Dask / Ray cluster plugins without a task environment: sizing from the flytekit plugins' specs,
clear permanent failures for unusable specs, and the restart sweep that stops clusters whose task already ended
(real processes). The full runs with flytekit are in tests/connectors/test_clusters.py."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import yaml
from flyteidl.core import identifier_pb2, tasks_pb2
from flyteidl.plugins import dask_pb2, ray_pb2
from google.protobuf import json_format, struct_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins.base import Phase, TaskExecutionContext
from aloft_propeller.plugins.clusters import dask_plugin, ray_plugin
from aloft_propeller.plugins.clusters.engines import (
    ClusterSpecError,
    DaskEngine,
    RayEngine,
    RayLifetime,
    cpus,
    memory_bytes,
)
from aloft_propeller.plugins.clusters.processes import ClusterDir
from aloft_propeller.plugins.local_process.attempt import AttemptDir, ProcessRecord, boot_id, process_start_ticks
from aloft_storage import BlobStore

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]


def resources(cpu: str = "", mem: str = "") -> tasks_pb2.Resources:
    limits = []
    if cpu:
        limits.append(tasks_pb2.Resources.ResourceEntry(name=tasks_pb2.Resources.CPU, value=cpu))
    if mem:
        limits.append(tasks_pb2.Resources.ResourceEntry(name=tasks_pb2.Resources.MEMORY, value=mem))
    return tasks_pb2.Resources(limits=limits)


def template(task_type: str, custom: dict[str, object], image: str = "ghcr.io/flyteorg/flytekit:py3.11") -> object:
    struct = struct_pb2.Struct()
    struct.update(custom)
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", domain="d", name="t", version="1"),
        type=task_type,
        custom=struct,
        container=tasks_pb2.Container(image=image, args=["pyflyte-execute"]),
    )


def test_quantities() -> None:
    assert cpus(resources(cpu="500m")) == 1 and cpus(resources(cpu="2.5")) == 3 and cpus(resources()) == 1
    assert memory_bytes(resources(mem="1Gi")) == 2**30 and memory_bytes(resources(mem="500M")) == 500 * 10**6
    assert memory_bytes(resources()) == 0


def test_dask_workers_sized_from_the_spec_within_max_workers(tmp_path: Path) -> None:
    job = dask_pb2.DaskJob(workers=dask_pb2.DaskWorkerGroup(number_of_workers=5, resources=resources("2", "1Gi")))
    task = template("dask", json_format.MessageToDict(job))
    cluster = ClusterDir(tmp_path / "c")
    launches = DaskEngine(max_workers=3).workers(task, Path("/venv/bin"), cluster, "tcp://127.0.0.1:1")  # type: ignore[arg-type]
    assert [launch.role for launch in launches] == ["worker-0", "worker-1", "worker-2"]
    argv = launches[0].argv
    assert argv[:3] == ["/venv/bin/dask", "worker", "tcp://127.0.0.1:1"]
    assert argv[argv.index("--nthreads") + 1] == "2" and argv[argv.index("--memory-limit") + 1] == str(2**30)


def test_ray_nodes_from_the_spec(tmp_path: Path) -> None:
    job = ray_pb2.RayJob(
        ray_cluster=ray_pb2.RayCluster(
            head_group_spec=ray_pb2.HeadGroupSpec(ray_start_params={"num-cpus": "1", "port": "1"}),
            worker_group_spec=[
                ray_pb2.WorkerGroupSpec(group_name="a", replicas=2, ray_start_params={"num-gpus": "0"}),
                ray_pb2.WorkerGroupSpec(group_name="b", replicas=1, min_replicas=2),
            ],
        )
    )
    task = template("ray", json_format.MessageToDict(job))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ray").touch()
    cluster = ClusterDir(tmp_path / "c")
    cluster.path.mkdir()
    head = RayEngine(max_workers=8).head(task, bin_dir, cluster)  # type: ignore[arg-type]
    assert "--head" in head.argv and "--num-cpus=1" in head.argv and "--port=1" not in head.argv
    workers = RayEngine(max_workers=8).workers(task, bin_dir, cluster, "127.0.0.1:6379")  # type: ignore[arg-type]
    assert len(workers) == 4  # 2 of group a, max(replicas, min_replicas) = 2 of group b
    assert "--address=127.0.0.1:6379" in workers[0].argv and "--num-gpus=0" in workers[0].argv
    assert len(RayEngine(max_workers=3).workers(task, bin_dir, cluster, "h:1")) == 3  # type: ignore[arg-type]


async def test_unusable_specs_fail_permanently(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    empty_venv = tmp_path / "venv"
    (empty_venv / "bin").mkdir(parents=True)
    config = propeller_config.model_copy(
        update={
            "plugins": propeller_config.plugins.model_copy(
                update={
                    "local_process": propeller_config.plugins.local_process.model_copy(
                        update={"images": {"*": str(empty_venv)}}
                    )
                }
            )
        }
    )
    missing = await dask_plugin(config, blobs).handle(await make_ctx(template("dask", {}), execution="e1"))
    assert missing.info.phase == Phase.PERMANENT_FAILURE and missing.info.error is not None
    assert "`dask` is not installed" in missing.info.error.message
    (empty_venv / "bin" / "ray").touch()
    bad = await ray_plugin(config, blobs).handle(await make_ctx(template("ray", {"rayCluster": 3}), execution="e2"))
    assert bad.info.phase == Phase.PERMANENT_FAILURE and bad.info.error is not None
    assert "not a RayJob" in bad.info.error.message


async def test_restart_sweep_stops_clusters_whose_task_ended(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    plugin = dask_plugin(propeller_config, blobs)
    ended, running = ClusterDir(plugin.root / "ended-n0-0"), ClusterDir(plugin.root / "running-n0-0")
    sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
    processes = []
    for cluster in (ended, running):
        assert cluster.claim()
        processes.append(cluster.spawn("scheduler", sleeper, dict(os.environ)))
    # The ended attempt's task process recorded its exit; the running one is still running (this test process).
    ended_task = AttemptDir(plugin.root / "tasks" / "ended-n0-0")
    ended_task.prepare()
    (ended_task.path / "exit_code").write_text("0")
    live_task = AttemptDir(plugin.root / "tasks" / "running-n0-0")
    live_task.prepare()
    live_task.write_record(
        ProcessRecord(os.getpid(), os.getpgid(0), boot_id(), process_start_ticks(os.getpid()), started_at=0.0)
    )
    restarted = dask_plugin(propeller_config, blobs)
    await restarted._sweep()
    assert ended.torn_down and ended.dead() == ["scheduler"]
    assert not running.torn_down and running.dead() == []
    await running.tear_down(1.0)
    assert running.dead() == ["scheduler"]


def _ray_template(job: ray_pb2.RayJob, command: list[str] | None = None) -> tasks_pb2.TaskTemplate:
    task = template("ray", json_format.MessageToDict(job))
    assert isinstance(task, tasks_pb2.TaskTemplate)
    if command is not None:
        del task.container.args[:]
        task.container.command.extend(command)
    return task


def test_ray_runtime_env_becomes_the_jobs() -> None:
    """Ray's job config variable carries the spec's runtime env (YAML first, else base64 JSON), env_vars also go to
    the driver, and an unreadable runtime env is a spec error."""
    engine = RayEngine(max_workers=1)
    from_yaml = ray_pb2.RayJob(runtime_env_yaml="env_vars:\n  A: '1'\npy_modules: [/m]\n", runtime_env="e30=")
    env = engine.job_env(_ray_template(from_yaml))
    assert env["A"] == "1" and env["RAY_OVERRIDE_JOB_RUNTIME_ENV"] == "1"
    assert json.loads(env["RAY_JOB_CONFIG_JSON_ENV_VAR"]) == {
        "runtime_env": {"env_vars": {"A": "1"}, "py_modules": ["/m"]}
    }
    legacy = ray_pb2.RayJob(runtime_env=base64.b64encode(json.dumps({"env_vars": {"B": 2}}).encode()).decode())
    assert engine.job_env(_ray_template(legacy))["B"] == "2"
    assert engine.job_env(_ray_template(ray_pb2.RayJob())) == {}
    for broken in (ray_pb2.RayJob(runtime_env="%%%"), ray_pb2.RayJob(runtime_env_yaml="[1, 2]")):
        with pytest.raises(ClusterSpecError):
            engine.job_env(_ray_template(broken))


@pytest.mark.parametrize(
    ("spec", "lifetime", "kept"),
    [
        ((False, 0), RayLifetime(True, 0, 3600), 0.0),  # local default: stopped with the job
        ((False, 0), RayLifetime(True, 120, 3600), 120.0),  # the plugin config's TTL (Flyte's: 3600)
        ((True, 30), RayLifetime(True, 120, 3600), 30.0),  # the spec's TTL wins when it asks for shutdown
        ((True, 0), RayLifetime(True, 120, 3600), 0.0),
        ((True, 7200), RayLifetime(True, 0, 3600), 3600.0),  # capped by max-ttl-after-finished
        ((False, 0), RayLifetime(False, 0, 600), 600.0),  # no shutdown: kept for the cap (KubeRay: until deleted)
    ],
)
def test_ray_cluster_lifetime_after_the_job(spec: tuple[bool, int], lifetime: RayLifetime, kept: float) -> None:
    job = ray_pb2.RayJob(shutdown_after_job_finishes=spec[0], ttl_seconds_after_finished=spec[1])
    assert RayEngine(max_workers=1, lifetime=lifetime).keep_seconds(_ray_template(job)) == kept


RAY_PROBE = """
import json, os, sys
import ray
ray.init()

@ray.remote
def probe():
    import helper  # shipped by Ray from the runtime env's working_dir
    return {"worker_env": os.environ.get("ALOFT_PROBE"), "helper": helper.VALUE}

result = ray.get(probe.remote())
result["driver_env"] = os.environ.get("ALOFT_PROBE")
with open(sys.argv[1], "w") as out:
    json.dump(result, out)
"""


async def test_ray_runtime_env_and_ttl_on_a_real_cluster(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Callable[..., Awaitable[object]],
    flytekit_bin: Path,
    tmp_path: Path,
) -> None:
    """A real embedded Ray cluster (head only, the flytekit environment's `ray`): the spec's runtime env reaches the
    job's Ray workers (env_vars, a local working_dir packaged by Ray offline) and the driver; with
    shutdown_after_job_finishes + ttl the cluster outlives the task until its TTL, then the reaper stops it."""
    code = tmp_path / "job_code"
    code.mkdir()
    (code / "helper.py").write_text("VALUE = 'from working_dir'\n")
    runtime_env = {"env_vars": {"ALOFT_PROBE": "runtime-env"}, "working_dir": str(code)}
    job = ray_pb2.RayJob(
        ray_cluster=ray_pb2.RayCluster(head_group_spec=ray_pb2.HeadGroupSpec(ray_start_params={"num-cpus": "1"})),
        runtime_env_yaml=yaml.safe_dump(runtime_env),
        shutdown_after_job_finishes=True,
        ttl_seconds_after_finished=600,
    )
    result = tmp_path / "result.json"
    ctx = await make_ctx(_ray_template(job, ["python", "-c", RAY_PROBE, str(result)]), execution="ttl")
    plugin = ray_plugin(propeller_config, blobs)
    try:
        info = await drive(plugin, ctx, limit_seconds=240)
        assert getattr(info, "phase", None) == Phase.SUCCESS, info
        assert json.loads(result.read_text()) == {
            "worker_env": "runtime-env",
            "helper": "from working_dir",
            "driver_env": "runtime-env",
        }
        cluster = plugin.cluster(ctx)
        await plugin.finalize(ctx)  # the node moved on: the kept cluster stays up for its TTL
        until = cluster.keep_until()
        assert until is not None and not cluster.torn_down and cluster.dead() == []
        assert await plugin.reap(now=until - 1) == [] and cluster.dead() == []
        assert await plugin.reap(now=until) == [ctx.unique_id]
        assert cluster.torn_down and cluster.dead() == [p.role for p in cluster.processes()]
    finally:
        await plugin.abort(ctx, "test over")
        await plugin.close()


async def test_restarted_propeller_stops_kept_clusters_when_due(
    propeller_config: PropellerConfig, blobs: BlobStore
) -> None:
    """Clusters a previous propeller kept after their job (Ray's TTL): the new one's reaper, started with propeller
    (set_exit_listener inside its loop), stops the expired one without any task arriving, and leaves the other
    kept until its time — the restart sweep does not stop it although its task ended."""
    plugin = ray_plugin(propeller_config, blobs)
    expired, kept = ClusterDir(plugin.root / "expired-n0-0"), ClusterDir(plugin.root / "kept-n0-0")
    sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
    for cluster, until in ((expired, time.time() - 1), (kept, time.time() + 600)):
        assert cluster.claim()
        cluster.spawn("head", sleeper, dict(os.environ))
        cluster.keep(until)
        ended = AttemptDir(plugin.root / "tasks" / cluster.name)
        ended.prepare()
        (ended.path / "exit_code").write_text("0")
    plugin.set_exit_listener(lambda execution: None)
    try:
        deadline = time.monotonic() + 60
        while not expired.torn_down:
            assert time.monotonic() < deadline, "the reaper did not stop the expired cluster"
            await asyncio.sleep(0.2)
        assert expired.dead() == ["head"]
        assert not kept.torn_down and kept.dead() == []
    finally:
        await plugin.close()
        await kept.tear_down(1.0)
