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
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

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


def main() -> int:
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
    results = [(script, *run_one(script, args.timeout, rows)) for script in scripts]
    print_table(rows)
    print("\n=== summary")
    for script, ok, seconds in results:
        print(f"  {'ok    ' if ok else 'FAILED'} {seconds:7.1f}s  {script.relative_to(ROOT)}")
    print(f"  total   {time.monotonic() - start:7.1f}s")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
