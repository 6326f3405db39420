"""A custom async connector written on flytekit's connector base classes, its task type, and a workflow whose
downstream (python) task reads the connector's outputs. The connector server imports this module
(`pyflyte serve connector --modules flows.squares`); `pyflyte register flows` registers the task and workflow."""

from __future__ import annotations

import typing
from dataclasses import dataclass

from flyteidl.core.execution_pb2 import TaskExecution, TaskLog
from flytekit import task, workflow
from flytekit.core.base_task import PythonTask
from flytekit.core.interface import Interface
from flytekit.extend.backend.base_connector import (
    AsyncConnectorBase,
    AsyncConnectorExecutorMixin,
    ConnectorRegistry,
    Resource,
    ResourceMeta,
)
from flytekit.models.literals import LiteralMap
from flytekit.models.task import TaskTemplate

TASK_TYPE = "aloft_square"


@dataclass
class SquareJob(ResourceMeta):
    value: int
    job_id: str


class SquareConnector(AsyncConnectorBase):
    name = "Aloft Square Connector"

    def __init__(self) -> None:
        super().__init__(task_type_name=TASK_TYPE, metadata_type=SquareJob)

    async def create(
        self, task_template: TaskTemplate, output_prefix: str, inputs: LiteralMap | None = None, **kwargs
    ) -> SquareJob:
        value = inputs.literals["x"].scalar.primitive.integer if inputs else 0
        offset = int(task_template.custom.get("offset", 0))
        return SquareJob(value=value + offset, job_id=f"square-{value}")

    async def get(self, resource_meta: SquareJob, **kwargs) -> Resource:
        return Resource(
            phase=TaskExecution.SUCCEEDED,
            outputs={"o0": resource_meta.value * resource_meta.value},
            log_links=[TaskLog(name="Square job", uri=f"https://squares.example/{resource_meta.job_id}")],
            custom_info={"job_id": resource_meta.job_id},
        )

    async def delete(self, resource_meta: SquareJob, **kwargs) -> None:
        return None


ConnectorRegistry.register(SquareConnector())


class SquareTask(AsyncConnectorExecutorMixin, PythonTask):
    _TASK_TYPE = TASK_TYPE

    def __init__(self, name: str, offset: int = 0, **kwargs: typing.Any) -> None:
        self._offset = offset
        super().__init__(
            name=name,
            task_type=TASK_TYPE,
            task_config=None,
            interface=Interface(inputs={"x": int}, outputs={"o0": int}),
            **kwargs,
        )

    def get_custom(self, settings: typing.Any) -> dict[str, typing.Any]:
        return {"offset": self._offset}


square = SquareTask(name="flows.squares.square")


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def square_then_plus_one(x: int) -> int:
    return plus_one(x=square(x=x))
