"""A workflow whose inputs are a file and a directory the user has on their own disk (`pyflyte run --remote`)."""

from __future__ import annotations

import os

from flytekit import task, workflow
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile


@task
def describe(f: FlyteFile, d: FlyteDirectory) -> str:
    """Reads both inputs as a task does: flytekit downloads them from wherever DataProxy put them."""
    with open(f) as handle:
        text = handle.read().strip()
    local_dir = d.download()
    names = sorted(os.listdir(local_dir))
    contents = [open(os.path.join(local_dir, name)).read().strip() for name in names]  # noqa: SIM115
    return f"file={text};dir={','.join(names)};contents={','.join(contents)}"


@workflow
def local_inputs_wf(f: FlyteFile, d: FlyteDirectory) -> str:
    return describe(f=f, d=d)
