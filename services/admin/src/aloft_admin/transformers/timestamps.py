"""Conversions between protobuf Timestamp/Duration and Python datetimes (always UTC-aware)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

from google.protobuf import duration_pb2, timestamp_pb2

# What managers ask for the current time (injected, so tests can move it).
Clock: TypeAlias = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    if value is not None:
        stamp.FromDatetime(aware(value))
    return stamp


def from_timestamp(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def seconds_duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(seconds * 1e9))
    return duration


def fold_times(
    closure: Any, created_at: datetime, updated_at: datetime, started_at: datetime | None, duration: float
) -> None:
    """A row's authoritative times into its (execution, node or task execution) closure: created and updated, and
    started and duration once it started."""
    closure.created_at.CopyFrom(to_timestamp(created_at))
    closure.updated_at.CopyFrom(to_timestamp(updated_at))
    if started_at is not None:
        closure.started_at.CopyFrom(to_timestamp(started_at))
        closure.duration.CopyFrom(seconds_duration(duration))
