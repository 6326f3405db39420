"""Workflows the Kubernetes acceptance tests register with `pyflyte register` (unmodified flytekit)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flytekit import PodTemplate, Resources, Secret, current_context, map_task, task, workflow
from kubernetes.client import V1Container, V1EnvVar, V1PodSpec, V1Toleration

ENV_SECRET = Secret(group="creds", key="token", mount_requirement=Secret.MountType.ENV_VAR)
FILE_SECRET = Secret(group="creds", key="cert", mount_requirement=Secret.MountType.FILE)


@task(secret_requests=[ENV_SECRET, FILE_SECRET])
def read_secrets() -> str:
    secrets = current_context().secrets
    return secrets.get("creds", "token") + "|" + secrets.get("creds", "cert")


@workflow
def secrets_wf() -> str:
    return read_secrets()


@task(
    pod_template_name="team-template",
    pod_template=PodTemplate(
        primary_container_name="primary",
        labels={"source": "task-pod-template"},
        pod_spec=V1PodSpec(
            containers=[V1Container(name="primary", env=[V1EnvVar(name="FROM_TASK", value="task")])],
            tolerations=[V1Toleration(key="task", operator="Exists")],
        ),
    ),
)
def templated() -> str:
    return os.environ.get("FROM_TEMPLATE", "") + "+" + os.environ.get("FROM_TASK", "")


@workflow
def templated_wf() -> str:
    return templated()


@task(requests=Resources(cpu="500m", mem="200Mi", gpu="1"), limits=Resources(mem="300Mi"))
def sized() -> int:
    return 1


@workflow
def sized_wf() -> int:
    return sized()


@task
def oom_task() -> int:
    time.sleep(30)
    return 0


@workflow
def oom_wf() -> int:
    return oom_task()


@task
def evictable() -> int:
    return int(os.environ.get("FLYTE_ATTEMPT_NUMBER", "-1"))


@workflow
def evictable_wf() -> int:
    return evictable()


@task
def sleepy(seconds: int, marker_dir: str) -> int:
    Path(marker_dir, f"sleepy-{os.getpid()}").write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


@workflow
def sleepy_wf(seconds: int, marker_dir: str) -> int:
    return sleepy(seconds=seconds, marker_dir=marker_dir)


@task
def counted(marker_dir: str, key: str) -> str:
    with open(Path(marker_dir, f"{key}.attempts"), "a") as marks:
        marks.write(f"{os.getpid()}\n")
    time.sleep(4)
    return key


@workflow
def counted_wf(marker_dir: str, key: str) -> str:
    return counted(marker_dir=marker_dir, key=key)


@task
def square(x: int) -> int:
    return x * x


@workflow
def map_wf(xs: list[int]) -> list[int]:
    return map_task(square)(x=xs)
