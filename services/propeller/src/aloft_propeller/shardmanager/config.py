"""The ``manager`` section: flytepropeller-manager's shard configuration and how the manager supervises shards.

``shard.type`` is Flyte's ``Hash`` / ``Project`` / ``Domain`` (any letter case). ``Hash`` spreads executions over
``shard-count`` shards by a key derived from the execution id; ``Project`` / ``Domain`` start one shard per
``per-shard-mapping`` entry, and a shard whose only id is ``*`` takes every id no other shard lists.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from aloft_config import Duration, Section
from aloft_propeller.store.base import KEY_SPACE

WILDCARD = "*"


class ShardMapping(Section):
    ids: list[str] = Field(default_factory=list)


class ManagerShardConfig(Section):
    type: Literal["hash", "project", "domain"] = "hash"
    shard_count: int = Field(default=1, alias="shard-count")
    per_shard_mapping: list[ShardMapping] = Field(default_factory=list, alias="per-shard-mapping")

    @field_validator("type", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _valid_mapping(self) -> ManagerShardConfig:
        if self.type == "hash":
            _check_hash(self.shard_count, self.per_shard_mapping)
        else:
            _check_mapping([m.ids for m in self.per_shard_mapping])
        return self

    @property
    def count(self) -> int:
        return self.shard_count if self.type == "hash" else len(self.per_shard_mapping)


def _check_hash(count: int, mapping: list[ShardMapping]) -> None:
    if count < 1:
        raise ValueError(f"shard-count must be at least 1 for the Hash strategy (got {count})")
    if count > KEY_SPACE:
        raise ValueError(f"shard-count {count} is larger than the shard key space ({KEY_SPACE})")
    if mapping:
        raise ValueError("per-shard-mapping applies to the Project and Domain strategies, not Hash")


def _check_mapping(mapping: list[list[str]]) -> None:
    if not mapping:
        raise ValueError("per-shard-mapping must list at least one shard for the Project and Domain strategies")
    owner: dict[str, int] = {}
    for index, ids in enumerate(mapping):
        if not ids:
            raise ValueError(f"per-shard-mapping[{index}] has no ids")
        if WILDCARD in ids and len(ids) > 1:
            raise ValueError(
                f"per-shard-mapping[{index}]: the wildcard '*' must be the only id of its shard (got {ids})"
            )
        for id_ in ids:
            if id_ in owner:
                what = "the wildcard '*'" if id_ == WILDCARD else f"id {id_!r}"
                raise ValueError(f"{what} is in per-shard-mapping[{owner[id_]}] and per-shard-mapping[{index}]")
            owner[id_] = index


class BackoffConfig(Section):
    base_delay: Duration = Field(default="1s", alias="base-delay")  # type: ignore[assignment]
    max_delay: Duration = Field(default="1m", alias="max-delay")  # type: ignore[assignment]


class ManagerConfig(Section):
    shard: ManagerShardConfig = ManagerShardConfig()
    # How often the manager checks its shards' health and collects their metrics (Flyte: scan-interval).
    scan_interval: Duration = Field(default="10s", alias="scan-interval")  # type: ignore[assignment]
    # A shard that exits is started again after base-delay, doubling up to max-delay while it keeps failing.
    restart_backoff: BackoffConfig = Field(default_factory=BackoffConfig, alias="restart-backoff")
    # How long a stopping shard may take to finish its in-flight rounds before it is killed.
    stop_grace_period: Duration = Field(default="20s", alias="stop-grace-period")  # type: ignore[assignment]
    # Shard i listens on these + i; 0 picks free ports at start.
    shard_grpc_port_start: int = Field(default=0, alias="shard-grpc-port-start", ge=0)
    shard_http_port_start: int = Field(default=0, alias="shard-http-port-start", ge=0)
