"""Which executions this propeller evaluates (flytepropeller's shard strategies, ``propeller.shard``).

- ``""`` (default): every execution.
- ``hash``: executions whose shard key (0..31, a stable hash of the execution id) falls in this propeller's
  contiguous slice of the key space: ``shard-index`` of ``shard-count``.
- ``project`` / ``domain``: executions whose project / domain is in ``include``; ``"*"`` in ``include`` takes
  everything not named by the other shards (list them in ``exclude``-style by giving them to other propellers).

Every propeller may serve the DataPlaneService (writes are shared through the store); only the owner evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aloft_propeller.config import ShardConfig
from aloft_propeller.store.base import ExecutionKey
from aloft_propeller.store.sql import KEY_SPACE, shard_key_for


class ShardStrategy(Protocol):
    def owns(self, key: ExecutionKey) -> bool: ...


class AllExecutions:
    def owns(self, key: ExecutionKey) -> bool:
        return True


@dataclass(frozen=True)
class HashShard:
    index: int
    count: int

    def owns(self, key: ExecutionKey) -> bool:
        slot = int(shard_key_for(key))
        return slot * self.count // KEY_SPACE == self.index


@dataclass(frozen=True)
class LabelShard:
    label: str  # project | domain
    include: frozenset[str]

    def owns(self, key: ExecutionKey) -> bool:
        value = key.project if self.label == "project" else key.domain
        return value in self.include or "*" in self.include


def build_shard_strategy(config: ShardConfig) -> ShardStrategy:
    if config.type == "":
        return AllExecutions()
    if config.type == "hash":
        return HashShard(config.shard_index, config.shard_count)
    return LabelShard(config.type, frozenset(config.include))  # ShardConfig validated the combination
