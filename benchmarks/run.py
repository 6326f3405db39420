"""Run every benchmark: ``benchmarks/bench_*.py`` and ``services/*/benchmarks/bench_*.py``.

Each benchmark is a standalone script run with this interpreter from the repository root; it prints its own figures
beside the anchors of the performance targets (shared/design/performance-targets.md). Benchmarks never gate tests.
A benchmark line ``TABLE <figure> | <measured> | <target>`` is also a row of the table printed at the end (the
figures of issue 14's table, from every benchmark of the run, side by side).

Usage: python benchmarks/run.py [-k SUBSTRING] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from aloft_testing.scratch import DEFERRED_REMOVALS

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = ("benchmarks/bench_*.py", "services/*/benchmarks/bench_*.py")


def discover(substring: str = "") -> list[Path]:
    found = {path for pattern in PATTERNS for path in ROOT.glob(pattern)}
    return sorted(p for p in found if substring in str(p.relative_to(ROOT)))


TABLE_PREFIX = "TABLE "


# After a timeout's SIGINT (the benchmark's ``finally`` blocks stop the services it started), how long before the
# whole process group is killed.
STOP_GRACE_S = 30


def stop_group(process: subprocess.Popen[str]) -> None:
    """A benchmark that overran: interrupt it, then kill everything left in its session (its services too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_one(script: Path, timeout: float, rows: list[list[str]]) -> tuple[bool, float]:
    """Run one benchmark, echoing its output and collecting its ``TABLE`` rows."""
    name = script.relative_to(ROOT)
    print(f"\n=== {name}", flush=True)
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    timer = threading.Timer(timeout, stop_group, (process,))
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith(TABLE_PREFIX):
                rows.append([cell.strip() for cell in line[len(TABLE_PREFIX) :].split("|")])
        ok = process.wait() == 0
    except KeyboardInterrupt:  # the benchmark has a session of its own: Ctrl-C reaches it only through here
        stop_group(process)
        raise
    finally:
        timer.cancel()
    if time.monotonic() - start >= timeout:
        print(f"--- {name}: timed out after {timeout:.0f}s", flush=True)
        ok = False
    return ok, time.monotonic() - start


def print_table(rows: list[list[str]]) -> None:
    if not rows:
        return
    header = ["figure", "measured", "target"]
    table = [header, *[[*row, "", "", ""][:3] for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    print("\n=== figures (one run, this machine)")
    for index, row in enumerate(table):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


@contextlib.contextmanager
def deferred_removals() -> Iterator[None]:
    """The benchmarks move their scratch directories here instead of removing them (aloft_testing.scratch), so
    that one benchmark's removals do not slow the next one's file creation; they are removed once, at the end."""
    graveyard = tempfile.mkdtemp(prefix="aloft-bench-removals-")
    os.environ[DEFERRED_REMOVALS] = graveyard
    try:
        yield
    finally:
        entries = sum(len(dirs) + len(files) for _, dirs, files in os.walk(graveyard))
        shutil.rmtree(graveyard, ignore_errors=True)
        print(f"  removed the {entries} files and directories the benchmarks left (deferred until now)")


def file_creation_cpu_us(count: int = 300) -> float:
    """CPU (kernel time included) per file created in a new temporary directory, in µs."""
    with tempfile.TemporaryDirectory(prefix="aloft-bench-probe-") as directory:
        start = time.process_time()
        for index in range(count):
            os.close(os.open(f"{directory}/{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return (time.process_time() - start) / count * 1e6


def print_file_creation_cost(when: str) -> None:
    print(
        f"file creation {when}: {file_creation_cpu_us():.0f} µs of CPU per file (tens of µs on a quiet machine;"
        " hundreds after many recent deletions on an ext4 without a journal, which slows every benchmark here)",
        flush=True,
    )


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (``make`` stopped, a CI timeout) as Ctrl-C: the running benchmark is stopped and the deferred
    removals still happen."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only benchmarks whose path contains this")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    args = parser.parse_args()
    scripts = discover(args.k)
    if not scripts:
        print("no benchmarks found (looked for " + ", ".join(PATTERNS) + ")")
        return 0
    rows: list[list[str]] = []
    start = time.monotonic()
    print_file_creation_cost("before the benchmarks")
    with deferred_removals():
        results = [(script, *run_one(script, args.timeout, rows)) for script in scripts]
        print_file_creation_cost("after the benchmarks")
    print_table(rows)
    print("\n=== summary")
    for script, ok, seconds in results:
        print(f"  {'ok    ' if ok else 'FAILED'} {seconds:7.1f}s  {script.relative_to(ROOT)}")
    print(f"  total   {time.monotonic() - start:7.1f}s")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
