"""CPU per node of the 1,000-node fan-out on the real stack, for old/new pairs: propeller's own CPU (user + system
of its process, from ``/proc``), its reaped children's (the launcher shims and the commands they ran) and admin's,
from CreateExecution until admin lists every node and task execution (bench_end_to_end.py's fan-out, its user
script and stack). Not a ``bench_*`` script (``make bench`` does not run it): run it for two trees at the same time
and compare the CPU figures; the wall figures beside them swing with the machine's load.

``--profile DIR`` attaches ``py-spy record -f raw`` to propeller and to admin for each measured run
(``DIR/propeller-<run>.txt``, ``DIR/admin-<run>.txt``).

Usage: .venv/bin/python benchmarks/fanout_cpu.py [--size 1000] [--runs 2] [--database sqlite|postgres] [--parallelism 0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bench_end_to_end import run_user

from aloft_stack import running_stack

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the process's user + system CPU, its reaped children's) in seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    own = (int(fields[11]) + int(fields[12])) / _TICK
    children = (int(fields[13]) + int(fields[14])) / _TICK
    return own, children


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--parallelism", type=int, default=0, help="launch plan max parallelism (0: admin's default)")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--gil", action="store_true", help="profile only samples holding the GIL (py-spy --gil)")
    args = parser.parse_args()
    with running_stack(args.database) as stack:
        propeller, admin = stack.procs["propeller"].pid, stack.procs["admin"].pid
        run_user(stack.flyte_config, "fanout", 5, 0, 1)  # warm-up: registration paths, connections
        run_user(stack.flyte_config, "fanout", args.size, args.parallelism, 1)  # warm: the shape registered
        for run in range(args.runs):
            spies = []
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                for name, pid in (("propeller", propeller), ("admin", admin)):
                    command = [py_spy, "record", "-p", str(pid), "-r", "100", "--nonblocking", "-f", "raw"]
                    command += ["--gil"] if args.gil else []
                    command += ["-o", str(args.profile / f"{name}-{run}.txt")]
                    spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            before_p, before_c = cpu_seconds(propeller)
            before_a, _ = cpu_seconds(admin)
            report = run_user(stack.flyte_config, "fanout", args.size, args.parallelism, 1)
            after_p, after_c = cpu_seconds(propeller)
            after_a, _ = cpu_seconds(admin)
            for spy in spies:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            timing = report["runs"][0]
            per_node = 1000 / args.size
            print(
                f"{args.database} {args.size}-node fan-out run {run}: durable {timing['durable_s']:.2f} s"
                f" (SUCCEEDED {timing['succeeded_s']:.2f} s); CPU per node: propeller"
                f" {(after_p - before_p) * per_node:.3f} ms, its launchers {(after_c - before_c) * per_node:.3f} ms,"
                f" admin {(after_a - before_a) * per_node:.3f} ms",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
