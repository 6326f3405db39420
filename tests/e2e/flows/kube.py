"""Workflows only the Kubernetes acceptance tests (tests/kube) run: secrets, pod templates, resources, faults. They
also run basics' sleepy_wf, counted_wf and mapped as pods; `pyflyte register` of this package registers both."""

from __future__ import annotations

import os
import time

from flytekit import PodTemplate, Resources, Secret, current_context, task, workflow
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
