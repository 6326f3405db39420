"""A small workflow for the auth end-to-end test: one cached task (propeller → datacatalog) and one plain one."""

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
