"""Workflows the console's browser tests register with unmodified flytekit and drive from the web UI."""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flytekit import Deck, dynamic, map_task, task, workflow
from flytekit.types.file import FlyteFile


@dataclass
class Point:
    x: int
    y: int
    label: str


@task
def summarize(p: Point, values: list[int], scale: float) -> str:
    return f"{p.label}={(p.x + p.y + sum(values)) * scale:g}"


@workflow
def point_sum(p: Point, values: list[int], scale: float = 1.0) -> str:
    """Adds a point's coordinates and a list of values (a dataclass and a list input)."""
    return summarize(p=p, values=values, scale=scale)


@task
def explode(x: int) -> int:
    if x != 0:
        raise ValueError(f"console boom: x was {x}")
    return x


@workflow
def failing(x: int = 3) -> int:
    return explode(x=x)


@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


@workflow
def sleeper(seconds: int = 600) -> int:
    """Runs until terminated (the console's Terminate button)."""
    return nap(seconds=seconds)


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def mapped(xs: list[int]) -> list[int]:
    return map_task(plus_one)(x=xs)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@task
def describe_all(
    color: Color,
    counts: dict[str, int],
    maybe: int | None,
    either: int | str,
    f: FlyteFile,
    when: datetime,
    flag: bool,
    pause: timedelta,
) -> str:
    with open(f) as handle:
        text = handle.read().strip()
    items = ",".join(f"{k}={v}" for k, v in sorted(counts.items()))
    return f"{color.value}|{items}|{maybe}|{either!r}|{text}|{when.year}|{flag}|{pause.total_seconds():g}"


@workflow
def every_type(
    color: Color,
    counts: dict[str, int],
    maybe: int | None,
    either: int | str,
    f: FlyteFile,
    when: datetime,
    flag: bool = False,
    pause: timedelta = timedelta(seconds=5),
) -> str:
    """One input of each kind the launch form generates a field for."""
    return describe_all(color=color, counts=counts, maybe=maybe, either=either, f=f, when=when, flag=flag, pause=pause)


@workflow
def inner_sum(p: Point, values: list[int]) -> str:
    return summarize(p=p, values=values, scale=1.0)


@dynamic
def fan(n: int) -> list[int]:
    return [plus_one(x=i) for i in range(n)]


@workflow
def nested(n: int = 3) -> list[int]:
    """A subworkflow and a dynamic fan-out: the console expands both."""
    inner_sum(p=Point(x=1, y=2, label="in"), values=[n])
    return fan(n=n)


@task
def prepare(x: int) -> int:
    return x + 1


@task
def needs_marker(x: int, marker: str) -> int:
    """Fails until the file `marker` exists: the console test creates it, then recovers the failed execution."""
    if not os.path.exists(marker):
        raise RuntimeError(f"console recover: no marker file {marker}")
    return x * 10


@workflow
def recoverable(x: int, marker: str) -> int:
    return needs_marker(x=prepare(x=x), marker=marker)


@task(enable_deck=True)
def with_deck(n: int) -> int:
    Deck("console deck", f"<h2>console deck test</h2><p>n is {n}</p>")
    return n


@workflow
def decked(n: int = 7) -> int:
    return with_deck(n=n)
