"""The manager's own metrics under flytepropeller-manager's names (``flyte:propeller_manager:...``) and every
shard's ``flyte:`` metrics, collected from the shards' /metrics and re-exposed here with a ``shard`` label."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Summary
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

_PREFIX = "flyte:propeller_manager"
_FEDERATED_PREFIX = "flyte:"

round_time = Summary(f"{_PREFIX}:round_time_ms", "Milliseconds to perform one round of validating managed shards")
pods_created = Counter(f"{_PREFIX}:pods_created_count", "Managed propeller shards started")
pods_deleted = Counter(f"{_PREFIX}:pods_deleted_count", "Managed propeller shards that exited and were replaced")
pods_running = Gauge(f"{_PREFIX}:pods_running_count", "Managed propeller shards currently serving")


class ShardMetrics(Collector):
    """The last scrape of each shard, merged by metric name (one family per name, one ``shard`` label value per
    shard). A shard that cannot be scraped keeps its previous samples until it answers again."""

    def __init__(self) -> None:
        self._by_shard: dict[int, list[Metric]] = {}

    def update(self, shard: int, exposition: str) -> None:
        families = []
        for family in text_string_to_metric_families(exposition):
            if not family.name.startswith(_FEDERATED_PREFIX):
                continue
            family.samples = [s._replace(labels={**s.labels, "shard": str(shard)}) for s in family.samples]
            families.append(family)
        self._by_shard[shard] = families

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for shard in sorted(self._by_shard):
            for family in self._by_shard[shard]:
                target = merged.get(family.name)
                if target is None:
                    target = merged[family.name] = Metric(family.name, family.documentation, family.type)
                target.samples.extend(family.samples)
        yield from merged.values()
