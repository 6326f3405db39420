"""``resourcemanager.type: redis``: one Redis set of held tokens per resource, shared by every propeller.

Allocation runs as one Lua script, so the "already held / pool full / scope cap reached / add" decision is atomic
across propellers (Flyte checks and adds in separate round trips and can overshoot).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from aloft_propeller.resourcemanager.base import (
    AllocationStatus,
    ExecutionScope,
    QuotaRegistry,
    ResourceConstraints,
    ResourceManagerError,
)
from aloft_propeller.resourcemanager.config import RedisConfig

# KEYS[1]: the resource's token set. ARGV: token, pool quota, then (prefix, cap) pairs.
_ALLOCATE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 2 end
if #ARGV > 2 then
  local members = redis.call('SMEMBERS', KEYS[1])
  for i = 3, #ARGV, 2 do
    local prefix, cap, held = ARGV[i], tonumber(ARGV[i + 1]), 0
    for _, member in ipairs(members) do
      if string.sub(member, 1, #prefix) == prefix then held = held + 1 end
    end
    if held >= cap then return 3 end
  end
end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"""


class RedisResourceManager:
    def __init__(self, client: aioredis.Redis, max_quota: int, *, key_prefix: str = "") -> None:
        self._client = client
        self._quotas = QuotaRegistry(max_quota)
        self._key_prefix = key_prefix
        self._allocate_script: Any = client.register_script(_ALLOCATE)

    def register_quota(self, resource: str, quota: int) -> None:
        self._quotas.register(resource, quota)

    async def allocate(
        self, resource: str, token: str, scope: ExecutionScope, constraints: ResourceConstraints | None = None
    ) -> AllocationStatus:
        quota = self._quotas.quota(resource)
        caps = (constraints or ResourceConstraints()).for_scope(scope)
        args: list[str | int] = [scope.token(token), quota]
        for prefix, cap in caps:
            args += [prefix, cap]
        result = await self._allocate_script(keys=[self._key(resource)], args=args)
        return AllocationStatus(int(result))

    async def release(self, resource: str, token: str, scope: ExecutionScope) -> None:
        self._quotas.quota(resource)
        await self._client.srem(self._key(resource), scope.token(token))

    async def allocated(self, resource: str) -> int:
        return int(await self._client.scard(self._key(resource)))

    async def close(self) -> None:
        await self._client.close()

    def _key(self, resource: str) -> str:
        return f"{self._key_prefix}{resource}"


def redis_client(config: RedisConfig) -> aioredis.Redis:
    """A client for ``resourcemanager.redis`` (hostPaths[0] or hostPath as host:port; hostKey is the password)."""
    address = config.address()
    if not address:
        raise ResourceManagerError("resourcemanager.redis.hostPaths is empty: where is Redis?")
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "6379")
    retry = Retry(ExponentialBackoff(), config.maxRetries) if config.maxRetries else None
    return aioredis.Redis(
        host=host,
        port=int(port),
        password=config.hostKey or None,
        retry=retry,
        decode_responses=True,
    )
