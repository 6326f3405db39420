"""ResourceManager token pools (noop and redis) that plugins use to throttle, and the factory picking one."""

from __future__ import annotations

from aloft_propeller.resourcemanager.base import (
    AllocationStatus,
    ExecutionScope,
    ResourceConstraints,
    ResourceManager,
    ResourceManagerError,
    TaskResourceManager,
)
from aloft_propeller.resourcemanager.config import ResourceManagerConfig
from aloft_propeller.resourcemanager.noop import NoopResourceManager
from aloft_propeller.resourcemanager.redis import RedisResourceManager, redis_client

__all__ = [
    "AllocationStatus",
    "ExecutionScope",
    "NoopResourceManager",
    "RedisResourceManager",
    "ResourceConstraints",
    "ResourceManager",
    "ResourceManagerError",
    "TaskResourceManager",
    "build_resource_manager",
]


def build_resource_manager(config: ResourceManagerConfig, *, key_prefix: str = "") -> ResourceManager:
    """The manager ``resourcemanager.type`` asks for."""
    if config.type == "redis":
        return RedisResourceManager(redis_client(config.redis), config.resourceMaxQuota, key_prefix=key_prefix)
    return NoopResourceManager(config.resourceMaxQuota)
