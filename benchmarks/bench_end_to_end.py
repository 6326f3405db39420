"""What users get: a 1,000-node fan-out and a 100-node chain of no-op container tasks (``true``) on the real stack.

datacatalog, admin and propeller run as processes on SQLite (the embedded default) and on PostgreSQL; unmodified
flytekit (its own virtualenv) registers the workflow, executes it through admin's public API and polls. The clock
runs from CreateExecution until admin reports SUCCEEDED *and* lists every node and task execution. Each shape runs
at admin's default max parallelism (25) and an unbounded one (100,000).

Beside it, in the same run: the engine alone against a stub admin (bench_propeller.py's figure), Prefect and Dagster
on the same shapes (benchmarks/peers, each in its own virtualenv made on first use), and bare process spawn; then
``Aloft : Prefect : Dagster : bare spawn`` ratios. Figures are printed, never asserted.

Usage: .venv/bin/python benchmarks/bench_end_to_end.py [--fanout N] [--chain N] [--runs R] [--databases sqlite,postgres]
    [--no-peers] [--no-engine]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import common_pb2
from flyteidl.service import admin_pb2_grpc
from propeller_harness import process_cpu_seconds, spawn_seconds, transition_mean_ms, transition_totals

from aloft_stack import running_stack
from aloft_testing.scratch import scratch_dir
from aloft_testing.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
USER_SCRIPT = Path(__file__).resolve().parent / "flytekit_user.py"
PEERS = Path(__file__).resolve().parent / "peers"
UNBOUNDED = 100_000
SHAPE_LABEL = {"fanout": "fan-out", "chain": "chain"}


def flytekit_python() -> Path:
    return ROOT / ".venv-flytekit" / "bin" / "python"


def run_user(flyte_config: Path, shape: str, size: int, parallelism: int, runs: int) -> dict[str, Any]:
    command = [str(flytekit_python()), str(USER_SCRIPT), "--config", str(flyte_config), "--shape", shape]
    command += ["--size", str(size), "--parallelism", str(parallelism), "--runs", str(runs)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"flytekit_user.py failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def median_of(report: dict[str, Any], key: str) -> float:
    return statistics.median(run[key] for run in report["runs"])


def measure_aloft(args: argparse.Namespace) -> dict[tuple[str, str, int], float]:
    """(database, shape, parallelism) → median seconds until durable. A figure that cannot be measured (a run that
    failed or overran) is reported and left out; the others still run."""
    figures: dict[tuple[str, str, int], float] = {}
    for database in args.databases.split(","):
        try:
            measure_on(database, args, figures)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            print(f"  {database}: could not start the stack: {error}", flush=True)
    return figures


def measure_on(database: str, args: argparse.Namespace, figures: dict[tuple[str, str, int], float]) -> None:
    with running_stack(database) as stack:
        run_user(stack.flyte_config, "fanout", 5, 0, 1)  # warm-up: registration paths, connections
        for shape, size in (("fanout", args.fanout), ("chain", args.chain)):
            for parallelism in (0, UNBOUNDED):
                label = "default" if parallelism == 0 else "unbounded"
                try:
                    before = transition_totals(stack.ports["propeller_http"])
                    cpu_before = _service_cpu(stack)
                    report = run_user(stack.flyte_config, shape, size, parallelism, args.runs)
                    cpu = {name: _service_cpu(stack)[name] - seconds for name, seconds in cpu_before.items()}
                    prometheus = transition_mean_ms(before, transition_totals(stack.ports["propeller_http"]))
                except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                    print(f"  {database:8} {size:5}-node {shape:6} max-parallelism {label:9}: not measured: {error}")
                    continue
                durable = median_of(report, "durable_s")
                succeeded = median_of(report, "succeeded_s")
                figures[(database, shape, parallelism)] = durable
                print(
                    f"  {database:8} {size:5}-node {shape:6} max-parallelism {label:9}: {durable:6.2f} s durable"
                    f" (SUCCEEDED seen at {succeeded:.2f} s; {_per_node(durable, size)}; median of {args.runs})",
                    flush=True,
                )
                print(f"  {'':8} {_cpu_text(cpu, size * args.runs)}", flush=True)
                print(_table_row(database, shape, size, label, durable), flush=True)
                if shape == "chain":
                    print_chain_figures(database, size, label, durable, report, prometheus, args.chain_spawn)


def _service_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) so far of admin and propeller, their own processes (not the tasks they ran)."""
    return {name: process_cpu_seconds(stack.procs[name].pid)[0] for name in ("admin", "propeller")}


def _cpu_text(cpu: dict[str, float], nodes: int) -> str:
    """Process CPU per node over the runs (flytekit's registration and polling included): steadier than wall time
    on a shared machine, and what an old/new pair compares."""
    return "CPU per node: " + ", ".join(f"{name} {seconds * 1000 / nodes:.2f} ms" for name, seconds in cpu.items())


def print_chain_figures(
    database: str, size: int, label: str, durable: float, report: dict[str, Any], prometheus: float | None, spawn: float
) -> None:
    """The chain beside its target: per node beyond bare spawn (measured in this run), and Flyte's transition
    latency (a node's upstream's end → its start) from admin's recorded node events and from propeller's metric."""
    where = f"end to end, {database}, max parallelism {label}"
    beyond = (durable - spawn) / size * 1000
    recorded = [ms for run in report["runs"] for ms in run.get("transitions_ms", [])]
    admin = statistics.mean(recorded) if recorded else None
    admin_text = "n/a" if admin is None else f"{admin:.2f} ms mean, {statistics.median(recorded):.2f} median"
    metric_text = "n/a" if prometheus is None else f"{prometheus:.2f} ms mean"
    exits = [ms for run in report["runs"] for ms in run.get("exit_to_launch_ms", [])]
    exit_text = "n/a" if not exits else f"{statistics.mean(exits):.2f} ms mean, {statistics.median(exits):.2f} median"
    print(
        f"  {'':8} {size:5}-node chain  per node beyond spawn: {beyond:.1f} ms (bare spawn {spawn:.2f} s);"
        f" transition latency: {admin_text} in admin's node events (a check, not a figure: the events of one round"
        f" carry its time, and a node starts in the round that saw its upstream end), {metric_text} in propeller's"
        " metric;"
        f" upstream task's exit to the next task's launch (admin's task events): {exit_text}",
        flush=True,
    )
    if exits:
        figure = f"{size}-node chain, upstream exit to next launch, admin's task events ({where})"
        print(f"TABLE {figure} | {statistics.mean(exits):.2f} ms | <= 3 ms")
    print(f"TABLE {size}-node chain, per node beyond spawn ({where}) | {beyond:.1f} ms | <= 3 ms")
    if prometheus is not None:
        figure = f"{size}-node chain, transition latency, propeller's transition_latency_ms ({where})"
        print(f"TABLE {figure} | {prometheus:.2f} ms | <= 3 ms", flush=True)


def measure_memory(args: argparse.Namespace) -> None:
    """Propeller's resident memory per running workflow: RSS with ``--in-flight`` one-node workflows running
    (a task that sleeps; most wait for a local-process slot) minus RSS when idle, divided by their number."""
    with running_stack("sqlite") as stack:
        run_user(stack.flyte_config, "fanout", 5, 0, 1)  # warm: everything a round imports is loaded
        idle = stack.resident_bytes("propeller")
        command = [str(flytekit_python()), str(USER_SCRIPT), "--config", str(stack.flyte_config), "--shape", "chain"]
        command += ["--size", "1", "--sleep", "120", "--in-flight", str(args.in_flight)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if result.returncode != 0:
            print(f"  could not start {args.in_flight} executions: {result.stderr[-1500:]}")
            return
        running = wait_running(stack.ports["admin_grpc"], args.in_flight)
        if running < args.in_flight:
            print(f"  only {running} of {args.in_flight} workflows RUNNING after {RUNNING_TIMEOUT_S} s; measured so")
        busy = stack.resident_bytes("propeller")
        per = (busy - idle) / args.in_flight
        print(
            f"  propeller resident memory: {idle / 2**20:.0f} MiB idle, {busy / 2**20:.0f} MiB with {args.in_flight}"
            f" workflows in flight: {per / 2**20:.3f} MiB per running workflow (target <= 1 MB)"
        )
        figure = f"propeller memory per running workflow ({args.in_flight} in flight)"
        print(f"TABLE {figure} | {per / 2**20:.3f} MiB | <= 1 MB")


RUNNING_TIMEOUT_S = 300


def wait_running(admin_port: int, expected: int) -> int:
    """Admin hands executions to propeller in the background: wait until admin lists ``expected`` executions
    RUNNING (propeller has taken each one and reported it; the few whose task got a slot early may have finished),
    or the timeout; the count reached."""
    deadline = time.monotonic() + RUNNING_TIMEOUT_S
    with grpc.insecure_channel(f"127.0.0.1:{admin_port}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        while True:
            request = common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development"),
                filters="value_in(phase,RUNNING;SUCCEEDED)",
                limit=expected,
            )
            running = len(admin.ListExecutions(request, timeout=60).executions)
            if running >= expected or time.monotonic() > deadline:
                return running
            time.sleep(2)


def _table_row(database: str, shape: str, size: int, parallelism: str, durable: float) -> str:
    """A row of ``make bench``'s closing table (benchmarks/run.py)."""
    where = f"end to end, {database}, max parallelism {parallelism}"
    if shape == "chain":
        return f"TABLE {size}-node chain, per node until durable ({where}) | {durable / size * 1000:.1f} ms | <= 3 ms"
    return f"TABLE {size:,}-node fan-out, durable in admin ({where}) | {durable:.2f} s | <= 4 s"


def _per_node(seconds: float, size: int) -> str:
    return f"{seconds / size * 1000:.1f} ms/node"


def peer_python(name: str) -> Path | None:
    """.venv-bench-<name>, made on first use from benchmarks/peers/requirements-<name>.txt; None if that fails.
    pip's output goes to the virtualenv's install.log (shown only when the install fails)."""
    venv = ROOT / f".venv-bench-{name}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists():
        return python
    print(f"  (first use: installing {name} into {venv.name}; this takes a few minutes)", flush=True)
    requirements = PEERS / f"requirements-{name}.txt"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(requirements)],
    ]
    start = time.perf_counter()
    log = ROOT / f".venv-bench-{name}.log"
    with log.open("w") as output:
        for step in steps:
            if subprocess.run(step, stdout=output, stderr=subprocess.STDOUT, check=False).returncode != 0:
                print(f"  could not install {name} (skipped); the end of {log.name}:")
                print("    " + "\n    ".join(log.read_text().strip().splitlines()[-10:]))
                return None
    (venv / "install.log").write_bytes(log.read_bytes())
    log.unlink()
    marker.touch()
    print(f"  ({name} installed in {time.perf_counter() - start:.0f} s)", flush=True)
    return python


def measure_peer(name: str, args: argparse.Namespace) -> dict[str, float]:
    """Median seconds per shape for Prefect / Dagster (benchmarks/peers/<name>_shapes.py); empty if unavailable."""
    python = peer_python(name)
    if python is None:
        return {}
    command = [str(python), str(PEERS / f"{name}_shapes.py"), "--fanout", str(args.fanout), "--chain", str(args.chain)]
    try:
        with scratch_dir(f"bench-{name}-") as home:  # its files' removal deferred as ours are (aloft_testing.scratch)
            command += ["--runs", str(args.peer_runs), "--home", home]
            result = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    except subprocess.TimeoutExpired:
        print(f"  {name} did not finish within an hour: skipped")
        return {}
    if result.returncode != 0:
        print(f"  {name} run failed: {result.stderr[-1500:]}")
        return {}
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(f"  {name} printed no figures: {result.stdout[-500:]} {result.stderr[-1000:]}")
        return {}
    return {shape: statistics.median(seconds) for shape, seconds in report.items()}


def engine_only(args: argparse.Namespace) -> None:
    """bench_propeller.py's figure: propeller alone, its events acknowledged at once by a stub admin."""
    script = Path(__file__).resolve().parent / "bench_propeller.py"
    command = [sys.executable, str(script), "--chain", str(args.chain), "--fanout", str(args.fanout), "--rounds", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    for line in (result.stdout or result.stderr).strip().splitlines():
        print(f"  {line}")


def print_ratios(
    aloft: dict[tuple[str, str, int], float], peers: dict[str, dict[str, float]], args: argparse.Namespace
) -> None:
    spawn = {"fanout": spawn_seconds(args.fanout, 2), "chain": spawn_seconds(args.chain, 1)}
    print("\nAloft : Prefect : Dagster : bare spawn (seconds, same run; Aloft on SQLite at unbounded parallelism,")
    print("PostgreSQL in brackets; each figure durable in its system's database where it has one)")
    for shape, size in (("fanout", args.fanout), ("chain", args.chain)):
        ours = aloft.get(("sqlite", shape, UNBOUNDED))
        pg = aloft.get(("postgres", shape, UNBOUNDED))
        cells = [ours, peers.get("prefect", {}).get(shape), peers.get("dagster", {}).get(shape), spawn[shape]]
        text = " : ".join("n/a" if c is None else f"{c:.2f}" for c in cells)
        base = spawn[shape]
        ratio = " : ".join("n/a" if c is None else f"{c / base:.1f}" for c in cells)
        extra = f" [{pg:.2f}]" if pg is not None else ""
        print(f"  {size:5}-task {shape:6}: {text}{extra}   (as multiples of bare spawn: {ratio})")
        label = f"{size:,}-task {SHAPE_LABEL[shape]}"
        figure = f"{label}, Aloft : Prefect : Dagster : bare spawn (s; Aloft SQLite, unbounded)"
        print(f"TABLE {figure} | {text} | Aloft <= Prefect", flush=True)
        if ours is not None and cells[1] is not None:
            print(f"TABLE {label}, Aloft / Prefect (same run) | {ours / cells[1]:.2f} | <= 1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--peer-runs", type=int, default=1)
    parser.add_argument(
        "--in-flight", type=int, default=1000, help="workflows in flight for the memory figure (0: skip)"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip Prefect and Dagster")
    parser.add_argument("--no-engine", action="store_true", help="skip the stub-admin engine figure")
    args = parser.parse_args()
    if not flytekit_python().exists():
        print("no .venv-flytekit: run `make setup` first")
        return 1
    print("Figures from one run; on a shared or busy machine absolute times are noisy: compare the ratios.")
    print("Aloft end to end (flytekit → admin → propeller → admin; clock stops when admin lists every execution):")
    args.chain_spawn = spawn_seconds(args.chain, 1)  # bare spawn, for the chain's per node beyond spawn
    aloft = measure_aloft(args)
    if args.in_flight:
        print("Memory:")
        measure_memory(args)
    if not args.no_engine:
        print("Engine only (propeller process, stub admin acknowledging events at once):")
        engine_only(args)
    peers: dict[str, dict[str, float]] = {}
    if not args.no_peers:
        for name in ("prefect", "dagster"):
            peers[name] = measure_peer(name, args)
            for shape, seconds in peers[name].items():
                print(f"  {name:8} {shape:6}: {seconds:6.2f} s")
                size = args.fanout if shape == "fanout" else args.chain
                figure = f"{name.capitalize()}, {size:,}-task {SHAPE_LABEL[shape]} (same machine, same run)"
                print(f"TABLE {figure} | {seconds:.2f} s | peer")
    print_ratios(aloft, peers, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
