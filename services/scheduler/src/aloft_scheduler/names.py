"""Deterministic execution names: one name per (launch plan version, tick), so admin's name uniqueness makes every
tick fire once however many replicas fire it, and across restarts.

The same names as Flyte's native scheduler (flyteadmin/scheduler/identifier): FNV-1 64 of
``project:domain:name:version:<unix seconds>``, little-endian into the first 8 of 16 bytes of a UUID, and
``"f"`` + the first 19 hex digits.
"""

from __future__ import annotations

from datetime import datetime

from flyteidl.core import identifier_pb2

_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3


def fnv1_64(data: bytes) -> int:
    value = _FNV64_OFFSET
    for byte in data:
        value = (value * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
        value ^= byte
    return value


def execution_name(launch_plan: identifier_pb2.Identifier, tick: datetime) -> str:
    key = f"{launch_plan.project}:{launch_plan.domain}:{launch_plan.name}:{launch_plan.version}:{int(tick.timestamp())}"
    digest = fnv1_64(key.encode()).to_bytes(8, "little") + bytes(8)
    return "f" + digest.hex()[:19]
