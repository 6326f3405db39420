"""flytekitplugins-dask tasks: a dask Client computes on the attempt's embedded cluster (scheduler + 2 workers)."""

from __future__ import annotations

import os
import time

from flytekit import Resources, task, workflow
from flytekitplugins.dask import Dask, WorkerGroup

TWO_WORKERS = Dask(workers=WorkerGroup(number_of_workers=2, limits=Resources(cpu="1", mem="1Gi")))


@task(task_config=TWO_WORKERS)
def dask_squares(n: int, gate: str) -> tuple[int, int, str]:
    from dask.distributed import Client

    deadline = time.monotonic() + 300
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.2)  # lets a test act while the task runs against its cluster
    with Client() as client:  # DASK_SCHEDULER_ADDRESS: the cluster started for this attempt
        squares = client.map(lambda x: x * x, range(n))
        total = client.submit(sum, squares).result()
        workers = len(client.scheduler_info()["workers"])
        return total, workers, os.environ["DASK_SCHEDULER_ADDRESS"]


@workflow
def dask_wf(n: int, gate: str) -> tuple[int, int, str]:
    return dask_squares(n=n, gate=gate)
