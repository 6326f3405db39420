"""Shard strategies: every execution has exactly one owner among the shards of a configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aloft_propeller.config import ShardConfig
from aloft_propeller.sharding.strategy import build_shard_strategy
from aloft_propeller.store.base import ExecutionKey

KEYS = [ExecutionKey(p, d, f"e{i}") for i in range(200) for p, d in (("a", "development"), ("b", "production"))]


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_hash_shards_partition_the_executions(count: int) -> None:
    shards = [build_shard_strategy(ShardConfig(type="hash", shard_count=count, shard_index=i)) for i in range(count)]
    owners = [[i for i, shard in enumerate(shards) if shard.owns(key)] for key in KEYS]
    assert all(len(found) == 1 for found in owners)
    assert len({found[0] for found in owners}) == count  # every shard gets work


def test_project_and_domain_shards_with_a_catch_all() -> None:
    project_a = build_shard_strategy(ShardConfig(type="project", include=["a"]))
    rest = build_shard_strategy(ShardConfig(type="project", include=["*"]))
    production = build_shard_strategy(ShardConfig(type="domain", include=["production"]))
    assert project_a.owns(KEYS[0]) and not project_a.owns(KEYS[1])
    assert rest.owns(KEYS[1])
    assert production.owns(KEYS[1]) and not production.owns(KEYS[0])
    assert build_shard_strategy(ShardConfig()).owns(KEYS[0])


def test_invalid_shard_settings_name_the_key() -> None:
    with pytest.raises(ValidationError, match="shard-index"):
        ShardConfig(type="hash", shard_count=2, shard_index=2)
    with pytest.raises(ValidationError, match="include"):
        ShardConfig(type="project")
    with pytest.raises(ValidationError, match="type"):
        ShardConfig(type="nope")  # type: ignore[arg-type]
