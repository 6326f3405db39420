"""Workflows the end-to-end tests register with unmodified flytekit and run on the stack."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flytekit import ContainerTask, LaunchPlan, conditional, kwtypes, map_task, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.file import FlyteFile


@task
def add_one(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return x * 2


@workflow
def chain(x: int = 1) -> int:
    """A 2-task chain: (x + 1) * 2."""
    return double(x=add_one(x=x))


@task
def describe(label: str) -> str:
    return f"branch:{label}"


@workflow
def conditional_wf(x: int) -> str:
    return (
        conditional("sign")
        .if_(x > 0)
        .then(describe(label="positive"))
        .elif_(x < 0)
        .then(describe(label="negative"))
        .else_()
        .then(describe(label="zero"))
    )


@workflow
def inner(x: int) -> int:
    return double(x=x)


@workflow
def outer(x: int) -> int:
    """A workflow calling a subworkflow: double(x + 1)."""
    return inner(x=add_one(x=x))


@task(retries=2)
def flaky(marker_dir: str) -> str:
    """Fails with a recoverable error on its first attempt, succeeds on the next."""
    marker = Path(marker_dir) / "flaky-attempt"
    attempts = int(marker.read_text()) if marker.exists() else 0
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(attempts + 1))
    if attempts == 0:
        raise FlyteRecoverableException("transient failure, please retry")
    return f"ok after {attempts + 1} attempts (FLYTE_ATTEMPT_NUMBER={os.environ.get('FLYTE_ATTEMPT_NUMBER')})"


@workflow
def flaky_wf(marker_dir: str) -> str:
    return flaky(marker_dir=marker_dir)


@task
def explode(x: int) -> int:
    if x != 0:
        raise ValueError(f"boom: x was {x}")
    return x


@workflow
def failing_wf(x: int = 3) -> int:
    return explode(x=x)


@dataclass
class Point:
    x: int
    y: int
    label: str


@task
def make_point(n: int) -> Point:
    return Point(x=n, y=n * 10, label=f"p{n}")


@task
def use_coordinate(v: int) -> int:
    return v + 1000


@task
def relabel(p: Point) -> Point:
    return Point(x=p.x, y=p.y, label=p.label + "!")


@workflow
def dataclass_wf(n: int = 4) -> tuple[int, Point]:
    """Dataclass in/out plus attribute access into a promise (attr_path)."""
    p = make_point(n=n)
    return use_coordinate(v=p.y), relabel(p=p)


@task
def write_file(text: str) -> FlyteFile:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"message-{os.getpid()}.txt"
    path.write_text(text)
    return FlyteFile(str(path))


@task
def read_file(f: FlyteFile) -> str:
    with open(f) as handle:
        return handle.read().upper()


@workflow
def file_wf(text: str = "hello file") -> str:
    return read_file(f=write_file(text=text))


shell_sum = ContainerTask(
    name="shell_sum",
    image="busybox:latest",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs=kwtypes(a=int, b=int),
    outputs=kwtypes(total=int),
    command=["sh", "-c", "echo $(( {{.inputs.a}} + {{.inputs.b}} )) > /var/outputs/total"],
)


@workflow
def container_wf(a: int = 2, b: int = 3) -> int:
    return shell_sum(a=a, b=b)


@task
def square(x: int) -> int:
    return x * x


@workflow
def mapped(xs: list[int]) -> list[int]:
    return map_task(square)(x=xs)


@workflow
def with_sub_and_map(x: int = 2) -> list[int]:
    y = outer(x=x)
    return mapped(xs=[x, y])


@task
def sleepy(seconds: int, marker_dir: str) -> int:
    import time

    Path(marker_dir).mkdir(parents=True, exist_ok=True)
    (Path(marker_dir) / f"sleepy-{os.getpid()}").write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


@workflow
def sleepy_wf(seconds: int, marker_dir: str) -> int:
    return sleepy(seconds=seconds, marker_dir=marker_dir)


@task
def count_attempt(marker_dir: str, key: str) -> str:
    """Appends one line per attempt that actually ran: the crash test counts them."""
    Path(marker_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(marker_dir) / f"{key}.attempts", "a") as handle:
        handle.write(f"{os.getpid()}\n")
    import time

    time.sleep(3)
    return key


@workflow
def counted_wf(marker_dir: str, key: str) -> str:
    return count_attempt(marker_dir=marker_dir, key=key)


chain_lp = LaunchPlan.get_or_create(chain, name="chain_lp", default_inputs={"x": 5})
