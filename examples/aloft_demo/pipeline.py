"""A small pipeline showing what a local Aloft stack runs: a task chain, a dataclass passed between tasks,
a conditional, a subworkflow, a file handed from one task to the next, and a raw container task (`sh -c`).

Run it yourself against a stack started with `make run`:

    .venv-flytekit/bin/pyflyte --config .aloft/demo/flytekit.yaml run --remote \
        examples/aloft_demo/pipeline.py pipeline --n 6
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flytekit import ContainerTask, conditional, current_context, kwtypes, task, workflow
from flytekit.types.file import FlyteFile


@dataclass
class Stats:
    count: int
    total: float
    mean: float


@task
def generate(n: int) -> list[float]:
    """The squares 1..n."""
    return [float(i * i) for i in range(1, n + 1)]


@task
def summarize(values: list[float]) -> Stats:
    total = sum(values)
    return Stats(count=len(values), total=total, mean=total / len(values) if values else 0.0)


@task
def mean_of(stats: Stats) -> float:
    return stats.mean


@task
def describe_large(mean: float) -> str:
    return f"large: the mean square is {mean:.2f}"


@task
def describe_small(mean: float) -> str:
    return f"small: the mean square is {mean:.2f}"


@task
def write_report(stats: Stats) -> FlyteFile:
    path = Path(current_context().working_directory) / "report.txt"
    path.write_text(f"{stats.count} values, total {stats.total:g}, mean {stats.mean:.2f}\n")
    return FlyteFile(str(path))


@task
def read_report(report: FlyteFile) -> str:
    with open(report) as handle:
        return handle.read().strip()


@workflow
def report(stats: Stats) -> str:
    """A subworkflow: write a report file in one task, read it back in another."""
    return read_report(report=write_report(stats=stats))


# A raw container task: no flytekit inside; inputs arrive as files, outputs are read from files (Flyte's copilot).
count_to = ContainerTask(
    name="aloft_demo.count_to",
    image="alpine:3.19",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs=kwtypes(n=int),
    outputs=kwtypes(line=str),
    command=["sh", "-c", "seq -s ' ' 1 {{.inputs.n}} > /var/outputs/line"],
)


@workflow
def pipeline(n: int = 5) -> tuple[Stats, str, str, str]:
    stats = summarize(values=generate(n=n))
    mean = mean_of(stats=stats)
    verdict = (
        conditional("size").if_(mean > 10.0).then(describe_large(mean=mean)).else_().then(describe_small(mean=mean))
    )
    return stats, verdict, report(stats=stats), count_to(n=n)
