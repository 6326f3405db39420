"""Dagster on the benchmark's DAG shapes, run with .venv-bench-dagster's Python (see bench_end_to_end.py).

A job of N ops that each run ``true`` — independent (fan-out) or each depending on the previous (chain) — executed
with ``execute_in_process`` against a persistent local instance (SQLite run and event storage in a temporary
DAGSTER_HOME), so every op's events are stored when it returns. Prints one JSON line:
{"fanout": [seconds...], "chain": [seconds...]}.

Usage: python dagster_shapes.py --fanout N --chain N --runs R
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from typing import Any


def build_job(shape: str, size: int) -> Any:
    from dagster import In, Nothing, Out, job, op

    def make_op(index: int) -> Any:
        ins = {"after": In(Nothing)} if shape == "chain" and index else {}

        @op(name=f"noop_{index}", ins=ins, out=Out(Nothing))
        def noop() -> None:
            subprocess.run(["true"], check=True)

        return noop

    ops = [make_op(i) for i in range(size)]

    @job(name=f"{shape}_{size}")
    def shaped() -> None:
        previous = None
        for index, noop in enumerate(ops):
            previous = noop(previous) if shape == "chain" and index else noop()

    return shaped


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--home", help="an empty directory for Dagster's instance (default: a temporary one)")
    args = parser.parse_args()
    from dagster import DagsterInstance

    results: dict[str, list[float]] = {"fanout": [], "chain": []}
    home_dir = contextlib.nullcontext(args.home) if args.home else tempfile.TemporaryDirectory(prefix="bench-dagster-")
    with home_dir as home, DagsterInstance.local_temp(home) as instance:
        build_job("fanout", 5).execute_in_process(instance=instance)  # warm-up
        for shape, size in (("fanout", args.fanout), ("chain", args.chain)):
            shaped = build_job(shape, size)
            for _ in range(args.runs):
                start = time.perf_counter()
                result = shaped.execute_in_process(instance=instance)
                if not result.success:
                    raise SystemExit(f"dagster {shape} failed")
                results[shape].append(time.perf_counter() - start)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
