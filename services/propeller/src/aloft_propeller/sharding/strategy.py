"""Which executions a propeller evaluates (flytepropeller's shard strategies, ``propeller.shard``).

- ``""`` (default): every execution.
- ``hash``: executions whose shard key (0..31, a stable hash of the execution id) falls in this shard's range of
  the key space; ranges are Flyte's: the keys divided evenly over ``shard-count``, the first ``32 % shard-count``
  shards taking one key more.
- ``project`` / ``domain``: executions whose project / domain is in ``include``; ``include: ["*"]`` takes every
  id not in ``exclude`` (the ids the other shards own).

A manager (``aloft-propeller manager``) derives every shard's section from ``manager.shard`` (``shard_sections``),
so the shards of one configuration partition the executions: each has exactly one owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aloft_propeller.config import ShardConfig
from aloft_propeller.shardmanager.config import WILDCARD, ManagerShardConfig
from aloft_propeller.store.base import KEY_SPACE, ExecutionKey
from aloft_propeller.store.sql import shard_key_for


class ShardStrategy(Protocol):
    def owns(self, key: ExecutionKey) -> bool: ...


class AllExecutions:
    def owns(self, key: ExecutionKey) -> bool:
        return True


def key_range(count: int, index: int, key_space: int = KEY_SPACE) -> range:
    """The shard keys hash shard ``index`` of ``count`` owns (Flyte's ComputeKeyRange)."""
    per_shard, remainder = divmod(key_space, count)

    def start(i: int) -> int:
        return min(i, remainder) * (per_shard + 1) + max(0, i - remainder) * per_shard

    return range(start(index), start(index + 1))


@dataclass(frozen=True)
class HashShard:
    index: int
    count: int

    def owns(self, key: ExecutionKey) -> bool:
        return int(shard_key_for(key)) in key_range(self.count, self.index)


@dataclass(frozen=True)
class LabelShard:
    label: str  # project | domain
    include: frozenset[str]
    exclude: frozenset[str] = frozenset()

    def owns(self, key: ExecutionKey) -> bool:
        value = key.project if self.label == "project" else key.domain
        if value in self.include:
            return True
        return WILDCARD in self.include and value not in self.exclude


def build_shard_strategy(config: ShardConfig) -> ShardStrategy:
    if config.type == "":
        return AllExecutions()
    if config.type == "hash":
        return HashShard(config.shard_index, config.shard_count)
    return LabelShard(config.type, frozenset(config.include), frozenset(config.exclude))


def shard_sections(config: ManagerShardConfig) -> list[ShardConfig]:
    """The ``propeller.shard`` section of each managed shard, in shard order."""
    if config.type == "hash":
        return [ShardConfig(type="hash", shard_count=config.shard_count, shard_index=i) for i in range(config.count)]
    sections = []
    for index, mapping in enumerate(config.per_shard_mapping):
        others = {i for n, m in enumerate(config.per_shard_mapping) if n != index for i in m.ids} - {WILDCARD}
        exclude = sorted(others) if mapping.ids == [WILDCARD] else []
        sections.append(
            ShardConfig(
                type=config.type,
                shard_count=config.count,
                shard_index=index,
                include=list(mapping.ids),
                exclude=exclude,
            )
        )
    return sections


def owner_of(strategies: list[ShardStrategy], key: ExecutionKey) -> int:
    """The index of the shard that owns ``key`` (shards built by ``shard_sections`` always have one)."""
    for index, strategy in enumerate(strategies):
        if strategy.owns(key):
            return index
    raise LookupError(f"no shard owns {key}")
