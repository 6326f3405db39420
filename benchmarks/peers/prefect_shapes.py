"""Prefect on the benchmark's DAG shapes, run with .venv-bench-prefect's Python (see bench_end_to_end.py).

Starts a local Prefect server (its own SQLite database in a temporary PREFECT_HOME), then runs a flow of N tasks
that each run ``true`` — N submitted at once (fan-out) or one after another (chain) — and stops the clock when the
server reports all N task runs COMPLETED (task run states reach the server asynchronously). Prints one JSON line:
{"fanout": [seconds...], "chain": [seconds...]}.

Usage: python prefect_shapes.py --fanout N --chain N --runs R
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, body: dict[str, object]) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_healthy(api: str, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("prefect server exited")
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"prefect server not healthy after {timeout}s")


def completed_task_runs(api: str, flow_run_id: str) -> int:
    body = {
        "flow_runs": {"id": {"any_": [flow_run_id]}},
        "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    return int(post(f"{api}/task_runs/count", body))  # type: ignore[arg-type]


def run_shapes(api: str, args: argparse.Namespace) -> dict[str, list[float]]:
    from prefect import flow, task
    from prefect.futures import wait

    @task
    def noop() -> None:
        subprocess.run(["true"], check=True)

    @flow
    def fanout(size: int) -> str:
        wait([noop.submit() for _ in range(size)])
        from prefect.runtime import flow_run

        return str(flow_run.id)

    @flow
    def chain(size: int) -> str:
        for _ in range(size):
            noop()
        from prefect.runtime import flow_run

        return str(flow_run.id)

    fanout(5)  # warm-up
    results: dict[str, list[float]] = {"fanout": [], "chain": []}
    for name, shape, size in (("fanout", fanout, args.fanout), ("chain", chain, args.chain)):
        for _ in range(args.runs):
            start = time.perf_counter()
            flow_run_id = shape(size)
            deadline = time.monotonic() + 600
            while (persisted := completed_task_runs(api, flow_run_id)) < size:
                if time.monotonic() > deadline:
                    raise SystemExit(f"prefect {name}: the server has {persisted} of {size} task runs after 600 s")
                time.sleep(0.05)
            results[name].append(time.perf_counter() - start)
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--home", help="an empty directory for Prefect's home (default: a temporary one)")
    args = parser.parse_args()
    home_dir = contextlib.nullcontext(args.home) if args.home else tempfile.TemporaryDirectory(prefix="bench-prefect-")
    with home_dir as home:
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "PREFECT_HOME": home, "PREFECT_LOGGING_LEVEL": "WARNING"}
        server_log = (Path(home) / "server.log").open("wb")
        prefect = Path(sys.executable).parent / "prefect"
        server = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(api, server)
            os.environ.update({"PREFECT_HOME": home, "PREFECT_API_URL": api, "PREFECT_LOGGING_LEVEL": "WARNING"})
            results = run_shapes(api, args)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            server_log.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
