"""flytekit tasks the local-process plugin runs in tests (serialized by serialize.py into templates/)."""

import os

from flytekit import task
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.file import FlyteFile


@task
def add(a: int, b: int) -> int:
    print(f"adding {a} and {b} in attempt {os.environ.get('FLYTE_ATTEMPT_NUMBER')}")
    return a + b


@task
def flaky() -> str:
    """Fails recoverably on attempt 0, succeeds on the retry (the attempt number comes from the environment)."""
    if os.environ.get("FLYTE_ATTEMPT_NUMBER") == "0":
        raise FlyteRecoverableException("transient trouble, try again")
    return "recovered"


@task
def broken(x: int) -> int:
    if x >= 0:
        raise ValueError(f"bad input {x}")
    return x


@task
def write_file(text: str) -> FlyteFile:
    path = os.path.join(os.getcwd(), "greeting.txt")
    with open(path, "w") as handle:
        handle.write(text)
    return FlyteFile(path)


@task
def read_file(f: FlyteFile) -> str:
    with open(f) as handle:
        return handle.read().upper()
