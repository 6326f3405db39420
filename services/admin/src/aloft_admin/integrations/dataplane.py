"""How admin hands executions to data planes. The real client speaks aloft.dataplane.v1 (propeller issue)."""

from __future__ import annotations

from typing import Any

from aloft_admin.config import AdminConfig


def build_dataplane_client(config: AdminConfig) -> Any:
    """Placeholder until the data-plane API exists: executions are recorded QUEUED and not dispatched."""
    return None
