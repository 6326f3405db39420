"""Cached tasks for the caching end-to-end tests: each run leaves one marker file, so tests count real runs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from flytekit import task, workflow


def _leave_marker(marker_dir: str, x: int) -> None:
    directory = Path(marker_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"run-{x}-{uuid.uuid4().hex}").write_text(str(x))


@task(cache=True, cache_version="1", cache_ignore_input_vars=("marker_dir",))
def cached_square(x: int, marker_dir: str) -> int:
    _leave_marker(marker_dir, x)
    return x * x


@workflow
def cached_wf(x: int, marker_dir: str) -> int:
    return cached_square(x=x, marker_dir=marker_dir)


@task(cache=True, cache_version="1", cache_serialize=True, cache_ignore_input_vars=("marker_dir",))
def serialized_slow(x: int, marker_dir: str) -> int:
    _leave_marker(marker_dir, x)
    time.sleep(4)  # long enough that the concurrent execution finds the reservation held
    return x + 100


@workflow
def serialized_wf(x: int, marker_dir: str) -> int:
    return serialized_slow(x=x, marker_dir=marker_dir)
