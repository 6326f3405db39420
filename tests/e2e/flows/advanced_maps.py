"""Map tasks (ArrayNodes) and dynamic workflows for the end-to-end tests (tests/e2e/test_maps_and_dynamic.py)."""

from __future__ import annotations

import functools
from pathlib import Path

from flytekit import LaunchPlan, dynamic, map_task, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException


@task
def cube(x: int) -> int:
    return x * x * x


@task(retries=2)
def flaky_offset(x: int, marker_dir: str) -> int:
    """Element 1's first attempt fails (a marker file remembers it), so its sub-task retries on its own."""
    marker = Path(marker_dir) / f"element-{x}"
    if x == 1 and not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("failed once")
        raise FlyteRecoverableException("first attempt of element 1 fails")
    return x + 100


@task
def positive_only(x: int) -> int:
    if x < 0:
        raise ValueError(f"{x} is negative")
    return x * 10


@workflow
def map_cubes(xs: list[int]) -> list[int]:
    return map_task(cube, concurrency=2)(x=xs)


@workflow
def map_with_retry(xs: list[int], marker_dir: str) -> list[int]:
    return map_task(functools.partial(flaky_offset, marker_dir=marker_dir))(x=xs)


@workflow
def tolerant_map(xs: list[int]) -> list[int | None]:
    return map_task(positive_only, min_success_ratio=0.5)(x=xs)


@task(cache=True, cache_version="1")
def cached_double(x: int) -> int:
    return 2 * x


@workflow
def cached_map(xs: list[int]) -> list[int]:
    return map_task(cached_double)(x=xs)


@dynamic
def fan_out(n: int) -> list[int]:
    return [cube(x=i) for i in range(n)]


@workflow
def dynamic_fan_out(n: int) -> list[int]:
    return fan_out(n=n)


@workflow
def cube_wf(x: int) -> int:
    return cube(x=x)


cube_lp = LaunchPlan.get_or_create(cube_wf, name="advanced_maps_cube_lp")


@dynamic
def fan_out_launch_plans(n: int) -> list[int]:
    return [cube_lp(x=i) for i in range(n)]


@workflow
def dynamic_launch_plans(n: int) -> list[int]:
    return fan_out_launch_plans(n=n)
