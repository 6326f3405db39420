"""The ``resourcemanager`` section, with Flyte's keys (nodes/task/resourcemanager/config/config.go)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aloft_config import Section


class RedisConfig(Section):
    hostPaths: list[str] = Field(default_factory=list)
    # Only for a Redis sentinel deployment (Flyte's key; sentinel is not supported by Aloft yet).
    primaryName: str = ""
    # Deprecated by Flyte in favour of hostPaths, still honoured.
    hostPath: str = ""
    hostKey: str = ""
    maxRetries: int = Field(default=0, ge=0)

    def address(self) -> str:
        """The first configured ``host:port`` (Aloft talks to one Redis)."""
        return self.hostPaths[0] if self.hostPaths else self.hostPath


class ResourceManagerConfig(Section):
    type: Literal["noop", "redis"] = "noop"
    # Upper bound of any quota a plugin registers for a resource.
    resourceMaxQuota: int = Field(default=1000, ge=1)
    redis: RedisConfig = RedisConfig()
