"""The real Aloft stack for benchmarks: datacatalog, admin and propeller as processes (aloft_testing.stack: their
console scripts on free ports), on SQLite (the embedded default) or a fresh PostgreSQL database, and a flytekit
config pointing at admin."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from aloft_testing.postgres import drop_database, fresh_database
from aloft_testing.scratch import scratch_dir
from aloft_testing.stack import Stack, stack_config, stack_ports, started_stack

SERVICES = ("datacatalog", "admin", "propeller")
BENCH_DIR = Path(__file__).resolve().parent


def _kill_tasks_under(root: Path) -> None:
    """Task processes run in sessions of their own (they outlive propeller by design): end those started here."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if root.resolve() in cwd.parents:
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(int(proc.name)), signal.SIGKILL)


@contextlib.contextmanager
def running_stack(
    database: str = "sqlite", propeller: dict[str, object] | None = None, local_concurrency: int = 0
) -> Iterator[Stack]:
    """``database``: "sqlite" (embedded default) or "postgres" (a fresh database, dropped afterwards);
    ``local_concurrency``: plugins.local-process.max-concurrency (0: the default)."""
    pg = fresh_database("aloft_bench") if database == "postgres" else None
    try:
        with scratch_dir("aloft-bench-") as tmp:
            root = Path(tmp)
            ports = stack_ports(SERVICES)
            config = stack_config(root, ports, propeller, database_url=pg.sync_url if pg else "")
            config["logger"] = {"level": "warning"}
            if local_concurrency:
                config["plugins"] = {"local-process": {"max-concurrency": local_concurrency}}
            try:
                with started_stack(root, BENCH_DIR, config, ports, SERVICES) as stack:
                    yield stack
            finally:
                _kill_tasks_under(root)
    finally:
        if pg is not None:
            drop_database(pg)
