"""Resource limits a local process can honour, set on the launcher from outside before it may start the task.

What is enforced (when ``plugins.local-process.enforce-limits`` is true):
- memory limit: ``RLIMIT_DATA`` (private writable memory: heap and anonymous mappings) is set to the limit, so an
  allocation beyond it fails inside the task (Python raises MemoryError); in addition the plugin samples the
  resident memory of the whole process group on every ``handle`` and kills the group (reported as OOMKilled) when
  it exceeds the limit — the local stand-in for the kernel's cgroup OOM killer.
- CPU limit: the process is pinned to ``ceil(limit)`` CPUs (``sched_setaffinity``) and, for fractional limits below
  one CPU, niced; a CPU share cannot be expressed with rlimits (``RLIMIT_CPU`` caps total CPU seconds, not a rate).
"""

from __future__ import annotations

import math
import os
import re
import resource
from dataclasses import dataclass

from aloft_propeller.plugins.base import Resources

_QUANTITY = re.compile(r"^\s*([0-9.]+(?:[eE][0-9]+)?)\s*([a-zA-Z]*)\s*$")
_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def parse_quantity(text: str) -> float:
    """A Kubernetes resource quantity ("500Mi", "1.5", "250m", "2G") as a plain number."""
    match = _QUANTITY.match(text)
    if not match or match.group(2) not in _SUFFIX:
        raise ValueError(f"invalid resource quantity {text!r}")
    return float(match.group(1)) * _SUFFIX[match.group(2)]


@dataclass(frozen=True)
class ProcessLimits:
    memory_bytes: int | None = None
    cpus: float | None = None

    @classmethod
    def from_resources(cls, limits: Resources, requests: Resources) -> ProcessLimits:
        memory = limits.memory or requests.memory
        cpu = limits.cpu or requests.cpu
        return cls(
            memory_bytes=int(parse_quantity(memory)) if memory else None,
            cpus=parse_quantity(cpu) if cpu else None,
        )

    def apply_to(self, pid: int) -> None:
        """Set the limits on a started process (its children inherit them). Done from outside rather than between
        fork and exec: a Python preexec_fn forces subprocess's slow fork path, about 10x the cost of a spawn."""
        memory, cpus = self.memory_bytes, self.cpus
        if memory:
            resource.prlimit(pid, resource.RLIMIT_DATA, (memory, memory))
        if cpus:
            available = sorted(os.sched_getaffinity(pid))
            wanted = max(1, math.ceil(cpus))
            if wanted < len(available):
                # Spread attempts over the CPUs instead of stacking them all on the first ones.
                start = pid % len(available)
                os.sched_setaffinity(pid, [available[(start + i) % len(available)] for i in range(wanted)])
            if cpus < 1:
                os.setpriority(os.PRIO_PROCESS, pid, min(os.getpriority(os.PRIO_PROCESS, pid) + 10, 19))
