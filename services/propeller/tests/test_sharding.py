"""Shard strategies: every execution has exactly one owner among the shards of a configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aloft_propeller.config import ShardConfig
from aloft_propeller.sharding.strategy import build_shard_strategy, key_range, owner_of, shard_sections
from aloft_propeller.shardmanager.config import ManagerShardConfig
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


def test_hash_key_ranges_are_flytes() -> None:
    # 32 keys over 3 shards: the first 32 % 3 = 2 shards take one key more (Flyte's ComputeKeyRange).
    assert [key_range(3, i) for i in range(3)] == [range(0, 11), range(11, 22), range(22, 32)]
    assert [len(key_range(4, i)) for i in range(4)] == [8, 8, 8, 8]
    assert key_range(32, 31) == range(31, 32)


@pytest.mark.parametrize(
    "shard",
    [
        {"type": "Hash", "shard-count": 3},
        {"type": "Project", "per-shard-mapping": [{"ids": ["a"]}, {"ids": ["*"]}]},
        {"type": "domain", "per-shard-mapping": [{"ids": ["production"]}, {"ids": ["development", "staging"]}]},
        {"type": "PROJECT", "per-shard-mapping": [{"ids": ["*"]}]},
    ],
)
def test_managed_shards_partition_the_executions(shard: dict[str, object]) -> None:
    config = ManagerShardConfig.model_validate(shard)
    strategies = [build_shard_strategy(section) for section in shard_sections(config)]
    assert len(strategies) == config.count
    keys = [*KEYS, *(ExecutionKey("other", "staging", f"o{i}") for i in range(50))]
    owners = {key: [i for i, s in enumerate(strategies) if s.owns(key)] for key in keys}
    assert all(len(found) == 1 for found in owners.values())  # exactly one owner each
    assert all(owner_of(strategies, key) == found[0] for key, found in owners.items())


def test_the_wildcard_shard_takes_what_no_other_shard_lists() -> None:
    config = ManagerShardConfig.model_validate(
        {"type": "Project", "per-shard-mapping": [{"ids": ["flytesnacks"]}, {"ids": ["*"]}, {"ids": ["a", "b"]}]}
    )
    sections = shard_sections(config)
    assert sections[1].include == ["*"] and sections[1].exclude == ["a", "b", "flytesnacks"]
    strategies = [build_shard_strategy(section) for section in sections]
    assert owner_of(strategies, ExecutionKey("flytesnacks", "development", "x")) == 0
    assert owner_of(strategies, ExecutionKey("b", "development", "x")) == 2
    assert owner_of(strategies, ExecutionKey("zzz", "development", "x")) == 1


@pytest.mark.parametrize(
    ("shard", "problem"),
    [
        ({"type": "Hash", "shard-count": 0}, "shard-count must be at least 1"),
        ({"type": "Hash", "shard-count": 33}, "larger than the shard key space"),
        ({"type": "Project", "per-shard-mapping": [{"ids": ["*"]}, {"ids": ["*"]}]}, r"wildcard '\*' is in"),
        ({"type": "Project", "per-shard-mapping": [{"ids": ["a", "*"]}]}, "must be the only id of its shard"),
        ({"type": "Domain", "per-shard-mapping": [{"ids": ["p"]}, {"ids": ["q", "p"]}]}, r"id 'p' is in per-shard"),
        ({"type": "Project", "per-shard-mapping": []}, "at least one shard"),
        ({"type": "Project", "per-shard-mapping": [{"ids": []}]}, r"per-shard-mapping\[0\] has no ids"),
        ({"type": "Region"}, "type"),
    ],
)
def test_invalid_manager_shard_settings_name_the_problem(shard: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ManagerShardConfig.model_validate(shard)


def test_invalid_shard_settings_name_the_key() -> None:
    with pytest.raises(ValidationError, match="shard-index"):
        ShardConfig(type="hash", shard_count=2, shard_index=2)
    with pytest.raises(ValidationError, match="include"):
        ShardConfig(type="project")
    with pytest.raises(ValidationError, match="type"):
        ShardConfig(type="nope")  # type: ignore[arg-type]
