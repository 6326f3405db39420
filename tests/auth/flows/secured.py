"""Workflows of the auth end-to-end tests: one cached task (propeller → datacatalog) and one plain one; a sleeper the
console login test launches and terminates."""

import time

from flytekit import task, workflow


@task(cache=True, cache_version="1")
def square(x: int) -> int:
    return x * x


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def squares(x: int = 3) -> int:
    return add(a=square(x=x), b=square(x=plus_one(x=x)))


@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


@workflow
def sleeper(seconds: int = 600) -> int:
    """Runs until terminated (the console login test's Terminate button)."""
    return nap(seconds=seconds)
