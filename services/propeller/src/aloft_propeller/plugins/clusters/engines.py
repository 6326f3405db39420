"""How each engine's embedded cluster is started, sized and found ready: Dask (``dask scheduler`` + ``dask worker``)
and Ray (``ray start --head`` + ``ray start --address``), from the flytekit plugins' task templates
(``flyteidl.plugins.dask_pb2.DaskJob`` / ``ray_pb2.RayJob`` in the template's ``custom``)."""

from __future__ import annotations

import base64
import json
import math
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from flyteidl.core import tasks_pb2
from flyteidl.plugins import dask_pb2, ray_pb2
from google.protobuf import json_format

from aloft_propeller.plugins.clusters.processes import ClusterDir

READY_MARK_DASK_WORKER = "Registered to:"
READY_MARK_RAY = "Ray runtime started"
OBJECT_STORE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class RayLifetime:
    shutdown_after_job_finishes: bool = True
    ttl_seconds_after_finished: int = 0
    max_seconds: float = 3600.0


@dataclass(frozen=True)
class Launch:
    role: str
    argv: list[str]


class ClusterSpecError(ValueError):
    """The task's cluster spec cannot be run (malformed custom, nothing to start)."""


class Engine(Protocol):
    task_type: str
    # Start workers one at a time (Ray nodes on one machine share the head's session directory and collide on
    # socket names when they start together).
    sequential_workers: bool

    def head(self, template: tasks_pb2.TaskTemplate, bin_dir: Path, cluster: ClusterDir) -> Launch: ...

    def head_address(self, cluster: ClusterDir) -> str:
        """The head's address once it accepts workers, else ""."""
        ...

    def workers(
        self, template: tasks_pb2.TaskTemplate, bin_dir: Path, cluster: ClusterDir, head: str
    ) -> list[Launch]: ...

    def workers_ready(self, cluster: ClusterDir, roles: list[str]) -> bool: ...

    def task_env(self, address: str) -> dict[str, str]: ...

    def job_env(self, template: tasks_pb2.TaskTemplate) -> dict[str, str]:
        """Environment the task's spec adds to the task (the driver), e.g. Ray's job runtime env."""
        ...

    def keep_seconds(self, template: tasks_pb2.TaskTemplate) -> float:
        """How long the cluster outlives its finished task (0: stopped at once)."""
        ...

    def process_env(self) -> dict[str, str]:
        """Extra environment of the cluster's own processes."""
        ...


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Job = TypeVar("Job", dask_pb2.DaskJob, ray_pb2.RayJob)


def _parse_custom(template: tasks_pb2.TaskTemplate, job: Job) -> Job:
    """The flytekit plugin's spec: its ``get_custom`` is the job message as JSON (MessageToDict)."""
    try:
        return json_format.ParseDict(json_format.MessageToDict(template.custom), job, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        name = job.DESCRIPTOR.name
        raise ClusterSpecError(f"the {template.type} task's custom is not a {name}: {exc}") from exc


def executable(bin_dir: Path, name: str, package: str) -> str:
    path = bin_dir / name
    if not path.exists():
        where = bin_dir.parent
        raise ClusterSpecError(f"`{name}` is not installed in the task environment {where} (pip install {package})")
    return str(path)


def _log_has(cluster: ClusterDir, role: str, mark: str) -> bool:
    try:
        return mark in cluster.log(role).read_text(errors="replace")
    except FileNotFoundError:
        return False


def _quantity(resources: tasks_pb2.Resources, name: int) -> str:
    for entries in (resources.limits, resources.requests):
        for entry in entries:
            if entry.name == name and entry.value:
                return entry.value
    return ""


def cpus(resources: tasks_pb2.Resources, default: int = 1) -> int:
    """A Kubernetes cpu quantity ("2", "500m") as whole CPUs for a local process (at least 1)."""
    value = _quantity(resources, tasks_pb2.Resources.CPU)
    if not value:
        return default
    amount = float(value[:-1]) / 1000 if value.endswith("m") else float(value)
    return max(1, math.ceil(amount))


_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def memory_bytes(resources: tasks_pb2.Resources) -> int:
    """A Kubernetes memory quantity in bytes, 0 when unset."""
    value = _quantity(resources, tasks_pb2.Resources.MEMORY)
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", value)
    if not match:
        return 0
    number, unit = match.groups()
    return int(float(number) * _MEMORY_UNITS.get(unit, 1))


class DaskEngine:
    task_type = "dask"
    sequential_workers = False

    def __init__(self, max_workers: int) -> None:
        self._max_workers = max_workers

    def process_env(self) -> dict[str, str]:
        return {}

    @staticmethod
    def job(template: tasks_pb2.TaskTemplate) -> dask_pb2.DaskJob:
        return _parse_custom(template, dask_pb2.DaskJob())

    def head(self, template: tasks_pb2.TaskTemplate, bin_dir: Path, cluster: ClusterDir) -> Launch:
        self.job(template)
        argv = [
            executable(bin_dir, "dask", "flytekitplugins-dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(cluster.path / "scheduler.json"),
        ]
        return Launch("scheduler", argv)

    def head_address(self, cluster: ClusterDir) -> str:
        try:
            return str(json.loads((cluster.path / "scheduler.json").read_text())["address"])
        except (FileNotFoundError, ValueError, KeyError):
            return ""

    def workers(self, template: tasks_pb2.TaskTemplate, bin_dir: Path, cluster: ClusterDir, head: str) -> list[Launch]:
        group = self.job(template).workers
        count = min(max(group.number_of_workers, 1), self._max_workers)
        argv = [str(bin_dir / "dask"), "worker", head, "--no-dashboard", "--nthreads", str(cpus(group.resources))]
        memory = memory_bytes(group.resources)
        argv += ["--memory-limit", str(memory) if memory else "0"]
        return [
            Launch(f"worker-{i}", [*argv, "--name", f"worker-{i}", "--local-directory", str(cluster.path / "work")])
            for i in range(count)
        ]

    def workers_ready(self, cluster: ClusterDir, roles: list[str]) -> bool:
        return all(_log_has(cluster, role, READY_MARK_DASK_WORKER) for role in roles)

    def task_env(self, address: str) -> dict[str, str]:
        # dask.distributed.Client() with no address connects here (dask config `scheduler-address`), as in the
        # Dask operator's job runner pod.
        return {"DASK_SCHEDULER_ADDRESS": address}

    def job_env(self, template: tasks_pb2.TaskTemplate) -> dict[str, str]:
        return {}

    def keep_seconds(self, template: tasks_pb2.TaskTemplate) -> float:
        return 0.0  # the Dask operator removes a DaskJob's cluster when its job ends


class RayEngine:
    task_type = "ray"
    sequential_workers = True

    def __init__(
        self,
        max_workers: int,
        startup_seconds: float = 180,
        lifetime: RayLifetime | None = None,
    ) -> None:
        self._max_workers = max_workers
        self._startup_seconds = startup_seconds
        self._lifetime = lifetime or RayLifetime()

    def keep_seconds(self, template: tasks_pb2.TaskTemplate) -> float:
        """KubeRay's ``shutdownAfterJobFinishes`` / ``ttlSecondsAfterFinished`` chosen as Flyte's ray plugin chooses
        them (the spec's when it asks for shutdown, else the plugin config's), capped by ``max-ttl-after-finished``;
        without shutdown the cluster is kept for that cap."""
        job, lifetime = self.job(template), self._lifetime
        shutdown, ttl = lifetime.shutdown_after_job_finishes, float(lifetime.ttl_seconds_after_finished)
        if job.shutdown_after_job_finishes:
            shutdown, ttl = True, float(job.ttl_seconds_after_finished)
        return min(ttl, lifetime.max_seconds) if shutdown else lifetime.max_seconds

    def process_env(self) -> dict[str, str]:
        # A node gives up joining after 30s by default; on a busy machine registration can take longer.
        return {"RAY_raylet_start_wait_time_s": str(max(30, int(self._startup_seconds)))}

    @staticmethod
    def job(template: tasks_pb2.TaskTemplate) -> ray_pb2.RayJob:
        return _parse_custom(template, ray_pb2.RayJob())

    @staticmethod
    def _params(params: dict[str, str]) -> list[str]:
        # Flags the embedded cluster owns (addresses, ports, blocking) are not taken from the spec; a node's object
        # store is kept small unless the spec sizes it (Ray's default takes 30% of the machine's memory per node).
        owned = {"address", "port", "block", "head", "temp-dir", "dashboard-host", "include-dashboard"}
        chosen = {"object-store-memory": str(OBJECT_STORE_BYTES), **params}
        return [f"--{key}={value}" for key, value in sorted(chosen.items()) if key not in owned]

    def head(self, template: tasks_pb2.TaskTemplate, bin_dir: Path, cluster: ClusterDir) -> Launch:
        spec = self.job(template).ray_cluster.head_group_spec
        port = _free_port()
        (cluster.path / "head-port").write_text(str(port))
        argv = [
            executable(bin_dir, "ray", "flytekitplugins-ray"),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={cluster.scratch('aloft-ray')}",
            *self._params(dict(spec.ray_start_params)),
        ]
        return Launch("head", argv)

    def head_address(self, cluster: ClusterDir) -> str:
        if not _log_has(cluster, "head", READY_MARK_RAY):
            return ""
        return f"127.0.0.1:{(cluster.path / 'head-port').read_text().strip()}"

    def workers(self, template: tasks_pb2.TaskTemplate, bin_dir: Path, cluster: ClusterDir, head: str) -> list[Launch]:
        launches: list[Launch] = []
        for group in self.job(template).ray_cluster.worker_group_spec:
            for _ in range(max(group.replicas, group.min_replicas)):
                if len(launches) >= self._max_workers:
                    return launches
                argv = [
                    str(bin_dir / "ray"),
                    "start",
                    "--block",
                    f"--address={head}",
                    "--node-ip-address=127.0.0.1",
                    "--disable-usage-stats",
                    *self._params(dict(group.ray_start_params)),
                ]
                launches.append(Launch(f"worker-{len(launches)}", argv))
        return launches

    def workers_ready(self, cluster: ClusterDir, roles: list[str]) -> bool:
        return all(_log_has(cluster, role, READY_MARK_RAY) for role in roles)

    def task_env(self, address: str) -> dict[str, str]:
        # ray.init() with no address joins the cluster RAY_ADDRESS names (as the KubeRay job submitter sets it).
        return {"RAY_ADDRESS": address}

    def job_env(self, template: tasks_pb2.TaskTemplate) -> dict[str, str]:
        """The spec's runtime env as the job's, the way ``ray job submit --runtime-env-json`` (KubeRay's submitter)
        hands it to the entrypoint: in Ray's job config variable, which ``ray.init()`` merges into the job's runtime
        env (so every Ray worker of the job gets it; ``working_dir`` / ``py_modules`` that are local directories are
        packaged by Ray itself, no network needed). Its ``env_vars`` are also the driver's own, as under Ray's job
        supervisor. flytekitplugins-ray calls ``ray.init(runtime_env={"working_dir": <task dir>, ...})`` itself: the
        override lets that call win on the keys both set (Ray refuses the conflict otherwise) — the task's code
        directory must be the job's."""
        runtime_env = ray_runtime_env(self.job(template))
        if not runtime_env:
            return {}
        env_vars = runtime_env.get("env_vars") or {}
        return {
            **{str(key): str(value) for key, value in env_vars.items()},
            RAY_JOB_CONFIG_ENV: json.dumps({"runtime_env": runtime_env}),
            "RAY_OVERRIDE_JOB_RUNTIME_ENV": "1",
        }


RAY_JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # ray._private.runtime_env.constants


def ray_runtime_env(job: ray_pb2.RayJob) -> dict[str, Any]:
    """The spec's runtime env: ``runtime_env_yaml`` (flytekit >= 1.12), else the deprecated base64 JSON
    ``runtime_env`` (as Flyte's plugin reads them); {} when neither is set."""
    try:
        if job.runtime_env_yaml:
            loaded = yaml.safe_load(job.runtime_env_yaml)
        elif job.runtime_env:
            loaded = json.loads(base64.b64decode(job.runtime_env))
        else:
            return {}
    except (ValueError, yaml.YAMLError) as exc:
        raise ClusterSpecError(f"the ray task's runtime env is neither YAML nor base64 JSON: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ClusterSpecError(f"the ray task's runtime env is not a mapping: {loaded!r}")
    env_vars = loaded.get("env_vars")
    if env_vars is not None and not isinstance(env_vars, dict):
        raise ClusterSpecError(f"the ray task's runtime env `env_vars` is not a mapping: {env_vars!r}")
    return loaded
