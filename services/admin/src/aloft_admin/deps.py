"""Infrastructure every admin manager may need, built once at start-up and passed in (no module singletons)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aloft_admin.config import AdminConfig
from aloft_db import Database
from aloft_storage import BlobStore


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AdminDeps:
    config: AdminConfig
    db: Database
    blobs: BlobStore
    clock: Callable[[], datetime] = utcnow
    # Set by server.py: the client admin uses to hand executions to data planes (aloft.dataplane.v1).
    dataplanes: Any = None
    # Free slots for collaborators built later in start-up (schedulers, notifiers ...), keyed by name.
    extras: dict[str, Any] = field(default_factory=dict)
