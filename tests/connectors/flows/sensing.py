"""flytekit's built-in FileSensor (served by the Sensor connector of `pyflyte serve connector`), then a python task
that reads the file the sensor waited for."""

from __future__ import annotations

from flytekit import task, workflow
from flytekit.sensor.file_sensor import FileSensor

wait_for_file = FileSensor(name="flows.sensing.wait_for_file")


@task
def read_file(path: str) -> str:
    with open(path) as handle:
        return handle.read()


@workflow
def sense_then_read(path: str) -> str:
    sensed = wait_for_file(path=path)
    content = read_file(path=path)
    sensed >> content
    return content
