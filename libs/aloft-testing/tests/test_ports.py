"""free_port: ports from the process's block, outside the ephemeral range, never bound, never handed out twice."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator

import pytest

from aloft_testing import ports


@pytest.fixture
def block(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    """A block of 40 ports whose upper half the (pretended) ephemeral range covers."""
    first = ports.suite_port_blocks(2)[1][0]
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (first + 20, first + 1000))
    monkeypatch.setenv(ports.PORTS_ENV, f"{first}-{first + 39}")
    ports._candidates.cache_clear()
    yield first, first + 39
    ports._candidates.cache_clear()


def test_suite_blocks_are_disjoint_and_outside_the_ephemeral_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (32768, 60999))
    blocks = ports.suite_port_blocks(3)
    assert blocks[0][0] == ports.LOWEST and blocks[-1][1] <= 32767
    assert all(a[1] < b[0] for a, b in itertools.pairwise(blocks))
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (10000, 40000))  # then above it
    assert ports.suite_port_blocks(2) == [(40001, 52767), (52768, 65534)]


def test_free_ports_stay_in_the_block_below_the_ephemeral_range(block: tuple[int, int]) -> None:
    first, _ = block
    picked = [ports.free_port() for _ in range(10)]
    assert len(set(picked)) == 10  # none twice
    assert all(first <= port < first + 20 for port in picked), picked


def test_bound_ports_are_skipped(block: tuple[int, int]) -> None:
    first, _ = block
    spare = first + 7
    taken = []
    try:
        for port in range(first, first + 20):  # the block's ports outside the ephemeral range, all but one
            if port != spare:
                taken.append(socket.socket())
                taken[-1].bind(("127.0.0.1", port))
        assert ports.free_port() == spare
        taken.append(socket.socket())
        taken[-1].bind(("127.0.0.1", spare))
        with pytest.raises(RuntimeError, match="no free port"):
            ports.free_port()
    finally:
        for sock in taken:
            sock.close()


def test_consecutive_free_ports(block: tuple[int, int]) -> None:
    start = ports.free_ports(3)
    for port in range(start, start + 3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
