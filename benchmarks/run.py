"""Run every benchmark: ``benchmarks/bench_*.py`` and ``services/*/benchmarks/bench_*.py``.

Each benchmark is a standalone script run with this interpreter from the repository root; it prints its own figures
beside the anchors of the performance targets (shared/design/performance-targets.md). Benchmarks never gate tests.

Usage: python benchmarks/run.py [-k SUBSTRING] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = ("benchmarks/bench_*.py", "services/*/benchmarks/bench_*.py")


def discover(substring: str = "") -> list[Path]:
    found = {path for pattern in PATTERNS for path in ROOT.glob(pattern)}
    return sorted(p for p in found if substring in str(p.relative_to(ROOT)))


def run_one(script: Path, timeout: float) -> tuple[bool, float]:
    name = script.relative_to(ROOT)
    print(f"\n=== {name}", flush=True)
    start = time.monotonic()
    try:
        result = subprocess.run([sys.executable, str(script)], cwd=ROOT, timeout=timeout, check=False)
        ok = result.returncode == 0
    except subprocess.TimeoutExpired:
        print(f"--- {name}: timed out after {timeout:.0f}s", flush=True)
        ok = False
    return ok, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only benchmarks whose path contains this")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    args = parser.parse_args()
    scripts = discover(args.k)
    if not scripts:
        print("no benchmarks found (looked for " + ", ".join(PATTERNS) + ")")
        return 0
    results = [(script, *run_one(script, args.timeout)) for script in scripts]
    print("\n=== summary")
    for script, ok, seconds in results:
        print(f"  {'ok    ' if ok else 'FAILED'} {seconds:7.1f}s  {script.relative_to(ROOT)}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
