"""The compact state of an array node's sub-nodes (flytepropeller keeps bitarrays; we keep parallel lists).

It lives in the array node's ``plugin_state`` (one JSON document), so a 1,000-element map is one small field of
the execution's state, written once per round with everything else, never one record per element. Per element
it keeps four small integers; the sparse extras (plugin state, logs, start time, cache status) only while the
element runs: once an element's terminal phase is in an event (persisted with this state, in the same write),
they are dropped (``settle``), so a finished element costs a few bytes, not its log links. Errors of failed
elements stay (the array's failure summary). Attempts that were retried are reported once, in the round that
retried them. States written before this (every element's logs kept, retried attempts kept) load unchanged.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class SubPhase(enum.IntEnum):
    NOT_STARTED = 0
    RUNNING = 1
    SUCCEEDED = 2
    FAILED = 3
    ABORTED = 4

    @property
    def is_terminal(self) -> bool:
        return self >= SubPhase.SUCCEEDED


@dataclass
class ArrayState:
    size: int = 0
    phases: list[int] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    system_failures: list[int] = field(default_factory=list)
    # Last plugin phase reported per sub-node (external resources) and the array task event's phase version.
    task_phases: list[int] = field(default_factory=list)
    event_version: int = 0
    last_event: list[int] = field(default_factory=list)  # [aggregate task phase, changes seen] of the last event
    # Sparse per-index extras (only sub-nodes that have them): plugin state, error [code, message, kind], logs.
    plugin_states: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    logs: dict[str, list[list[str]]] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    cache_statuses: dict[str, int] = field(default_factory=dict)  # flyteidl CatalogCacheStatus, cached sub-tasks
    # Attempts that failed and were retried, "index:attempt" -> {"error": [code, message, kind], "logs": [...]}:
    # reported as RETRYABLE_FAILED external resources in every later event (bounded by the retries).
    retried_attempts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def new(cls, size: int) -> ArrayState:
        return cls(
            size=size,
            phases=[SubPhase.NOT_STARTED] * size,
            attempts=[0] * size,
            system_failures=[0] * size,
            task_phases=[0] * size,
        )

    @classmethod
    def decode(cls, raw: bytes) -> ArrayState | None:
        if not raw:
            return None
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)

    def encode(self) -> bytes:
        return json.dumps(vars(self), separators=(",", ":")).encode()

    def phase(self, index: int) -> SubPhase:
        return SubPhase(self.phases[index])

    def count(self, phase: SubPhase) -> int:
        return self.phases.count(phase)

    def all_terminal(self) -> bool:
        return not (self.phases.count(SubPhase.NOT_STARTED) or self.phases.count(SubPhase.RUNNING))

    def settle(self, index: int) -> None:
        """A terminal element whose phase was reported: drop what only its running attempt needed."""
        key = str(index)
        for extras in (self.plugin_states, self.logs, self.started_at, self.cache_statuses):
            extras.pop(key, None)
