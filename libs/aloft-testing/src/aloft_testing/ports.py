"""Ports for the servers tests start: picked from a block of their own, outside the kernel's ephemeral range.

A port picked by binding port 0 comes from the ephemeral range, and between the pick and the server's own bind the
kernel may hand it out as some connection's source port (seen with two suites at a time on a loaded machine). So
``free_port`` picks outside that range (``/proc/sys/net/ipv4/ip_local_port_range``), where no source port is ever
taken, and only ports nothing is bound to. ``tests/run_suites.py`` gives each suite running at the same time a
block of its own (``ALOFT_TEST_PORTS=first-last``, from ``suite_port_blocks``), so two suites never pick the same
port; without it a process picks from every port outside the ephemeral range from ``LOWEST`` up. Each process
starts at a pid-dependent place in its block and never hands the same port out twice until it has gone round.
"""

from __future__ import annotations

import os
import socket
import threading
from functools import cache
from pathlib import Path

PORTS_ENV = "ALOFT_TEST_PORTS"
LOWEST = 10000  # below: well-known and registered servers' ports (PostgreSQL, Redis, NATS, the stack's defaults)
HIGHEST = 65535
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = _EPHEMERAL_RANGE.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _spans() -> list[tuple[int, int]]:
    """The stretches of [LOWEST, HIGHEST] outside the ephemeral range, largest first."""
    low, high = ephemeral_range()
    spans = [(LOWEST, min(low - 1, HIGHEST)), (max(high + 1, LOWEST), HIGHEST)]
    return sorted((s for s in spans if s[1] >= s[0]), key=lambda s: s[0] - s[1])


def suite_port_blocks(count: int) -> list[tuple[int, int]]:
    """``count`` disjoint blocks outside the ephemeral range, one per suite running at the same time."""
    spans = _spans() or [(LOWEST, HIGHEST)]  # no room outside it: blocks still keep suites apart
    first, last = spans[0]
    size = (last - first + 1) // count
    if size < 1:
        raise ValueError(f"cannot split ports {first}-{last} into {count} blocks")
    return [(first + i * size, first + (i + 1) * size - 1) for i in range(count)]


@cache
def _candidates() -> list[int]:
    block = os.environ.get(PORTS_ENV, "").strip()
    if block:
        first, _, last = block.partition("-")
        low, high = ephemeral_range()
        ports = [p for p in range(int(first), int(last) + 1) if not low <= p <= high]
        if not ports:  # the block lies inside the ephemeral range: still better than any port
            ports = list(range(int(first), int(last) + 1))
    else:
        ports = [p for first, last in _spans() for p in range(first, last + 1)]
    start = (os.getpid() * 7919) % len(ports)  # processes of one suite start far apart
    return ports[start:] + ports[:start]


_lock = threading.Lock()
_next = 0


def _bindable(port: int) -> bool:
    """Nothing is bound to ``port`` on any address (no SO_REUSEADDR: a port in TIME_WAIT counts as taken too)."""
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing is bound to, from this process's block; none is handed out twice before the block goes round."""
    global _next
    candidates = _candidates()
    with _lock:
        for _ in range(len(candidates)):
            port = candidates[_next % len(candidates)]
            _next += 1
            if _bindable(port):
                return port
    raise RuntimeError(f"no free port left in {os.environ.get(PORTS_ENV) or 'the non-ephemeral range'}")


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (a propeller manager's shard i listens on start + i)."""
    run = [free_port()]
    while len(run) < count:
        port = free_port()
        run = [*run, port] if port == run[-1] + 1 else [port]
    return run[0]
