"""Runs test suites (one pytest process per suite directory), ``--jobs`` of them at a time; `make pytest` uses it.

Each suite's output is kept in a file and printed whole when it ends, under a header with its wall-clock and CPU time
(the suite's pytest process and the service processes it started and reaped), so concurrent suites never interleave.
Suites start in the order given (`make` lists the longest first so they do not end up alone at the tail); the summary
lists every suite in that order. A directory without test files is reported and skipped; one with test files where
pytest collects nothing (exit code 5) fails like any other failure. With ``--jobs 1`` output streams as it comes.

Suites running concurrently keep apart: each has a data directory of its own and uniquely named PostgreSQL databases
(aloft_testing), and no test may stop or change what another suite's servers hold. Each running suite gets a port
block of its own (``ALOFT_TEST_PORTS``, one per job slot, outside the kernel's ephemeral range): ``free_port()``
picks only there, so two suites never pick the same port and no connection's source port can take a picked one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aloft_testing.ports import PORTS_ENV, suite_port_blocks


@dataclass
class Run:
    suite: str
    slot: int
    process: subprocess.Popen[bytes]
    log: IO[bytes] | None
    started: float = field(default_factory=time.monotonic)


@dataclass
class Outcome:
    suite: str
    status: int
    wall: float
    cpu: float


def has_tests(suite: str) -> bool:
    return any(Path(suite).rglob("test_*.py"))


def start(suite: str, pytest_args: list[str], slot: int, ports: tuple[int, int], buffered: bool) -> Run:
    command = [sys.executable, "-m", "pytest", suite, *pytest_args]
    env = {**os.environ, PORTS_ENV: f"{ports[0]}-{ports[1]}"}
    if not buffered:
        print(f"=== {suite}", flush=True)
        return Run(suite, slot, subprocess.Popen(command, env=env), None)
    print(f"... {suite}: started (output follows when it ends)", flush=True)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish() once the suite has ended
    return Run(suite, slot, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log)


def finish(run: Run, status: int, cpu: float) -> Outcome:
    outcome = Outcome(run.suite, status, time.monotonic() - run.started, cpu)
    verdict = "passed" if status == 0 else f"FAILED (exit {status})"
    if run.log is not None:
        print(f"=== {run.suite}", flush=True)
        run.log.seek(0)
        sys.stdout.buffer.write(run.log.read())
        run.log.close()
    print(f"--- {run.suite}: {verdict}, {outcome.wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    return outcome


def wait_any(running: dict[int, Run]) -> tuple[Run, int, float]:
    """The next suite to end, its exit status, and the CPU seconds it and its reaped children used."""
    while True:
        pid, wait_status, usage = os.wait4(-1, 0)
        run = running.pop(pid, None)
        if run is not None:
            run.process.returncode = os.waitstatus_to_exitcode(wait_status)  # reaped here, not by Popen
            return run, run.process.returncode, usage.ru_utime + usage.ru_stime


def run_suites(suites: list[str], jobs: int, pytest_args: list[str]) -> list[Outcome]:
    pending = []
    for suite in suites:
        if has_tests(suite):
            pending.append(suite)
        else:
            print(f"--- {suite}: no tests yet", flush=True)
    running: dict[int, Run] = {}
    outcomes: list[Outcome] = []
    blocks = suite_port_blocks(jobs)
    try:
        while pending or running:
            while pending and len(running) < jobs:
                slot = min(set(range(jobs)) - {r.slot for r in running.values()})  # a block no running suite has
                run = start(pending.pop(0), pytest_args, slot, blocks[slot], buffered=jobs > 1)
                running[run.process.pid] = run
            run, status, cpu = wait_any(running)
            outcomes.append(finish(run, status, cpu))
    finally:
        for run in running.values():  # interrupted: stop the suites still running (only those started here)
            run.process.terminate()
            run.process.wait()
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1, help="suites run at the same time")
    parser.add_argument("suites", nargs="+", help="suite directories, longest first")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments (split on spaces)")
    args = parser.parse_args()
    started = time.monotonic()
    outcomes = run_suites(args.suites, max(1, args.jobs), args.pytest_args.split())
    order = {suite: i for i, suite in enumerate(args.suites)}
    print(f"=== suites ({args.jobs} at a time, {time.monotonic() - started:.0f} s wall in all)")
    for outcome in sorted(outcomes, key=lambda o: order[o.suite]):
        verdict = "passed" if outcome.status == 0 else "FAILED"
        print(f"{outcome.suite:40} {verdict:7} {outcome.wall:6.0f} s wall {outcome.cpu:6.0f} s CPU")
    failed = [o.suite for o in outcomes if o.status != 0]
    if failed:
        print("FAILED suites: " + " ".join(failed))
        return 1
    print("all test suites passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
