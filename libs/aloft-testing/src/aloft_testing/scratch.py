"""Scratch directories for benchmarks whose removal can wait until the whole benchmark run ends.

On an ext4 file system without a journal, allocating an inode skips every inode freed in the last 60 s (300 s
while its inode table block is dirty): after one benchmark removes thousands of files, file creation in the next
one costs many times what it costs on a quiet machine (see benchmarks/README.md, "deletions deferred"). When
``ALOFT_DEFERRED_REMOVALS`` names a directory on the same file system (``benchmarks/run.py`` sets it), a scratch
directory is renamed into it instead of removed, which frees no inode; the runner removes them all at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

DEFERRED_REMOVALS = "ALOFT_DEFERRED_REMOVALS"


def remove_or_defer(path: Path) -> None:
    """Remove ``path`` (a directory tree) now, or move it into the deferred-removals directory when one is set."""
    graveyard = os.environ.get(DEFERRED_REMOVALS)
    if graveyard:
        try:
            os.rename(path, Path(graveyard) / path.name)
            return
        except OSError:  # another file system, or the directory is gone: remove it here
            pass
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def scratch_dir(prefix: str, parent: str | None = None) -> Iterator[str]:
    """A new directory (under ``parent``, else the system's temporary directory), removed or deferred on exit: a
    stand-in for ``tempfile.TemporaryDirectory``."""
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        yield path
    finally:
        remove_or_defer(Path(path))
