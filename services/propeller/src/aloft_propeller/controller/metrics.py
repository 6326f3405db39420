"""Prometheus metrics under flytepropeller's names (``flyte:propeller:all:...``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_PREFIX = "flyte:propeller:all"
_WORKFLOW_LABELS = ("project", "domain", "wf")
_LATENCY_MS_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_DURATION_MS_BUCKETS = (10, 50, 100, 500, 1000, 5000, 10000, 60000, 300000)

round_latency = Histogram(f"{_PREFIX}:round:round_latency", "Seconds to evaluate one workflow round", _WORKFLOW_LABELS)
round_errors = Counter(f"{_PREFIX}:round:error", "Rounds that ended in an error", _WORKFLOW_LABELS)
free_workers_count = Gauge(f"{_PREFIX}:free_workers_count", "Workers not evaluating a workflow")
main_depth = Gauge(f"{_PREFIX}:main_depth", "Workflows waiting in the work queue")
acceptance_latency = Histogram(
    f"{_PREFIX}:workflow:acceptance_latency_ms",
    "Milliseconds from the execution's creation to its first RUNNING round",
    _WORKFLOW_LABELS,
    buckets=(*_LATENCY_MS_BUCKETS, 30000),
)
completion_latency = Histogram(
    f"{_PREFIX}:workflow:completion_latency_ms",
    "Milliseconds from the workflow's last node finishing to the workflow reaching a terminal phase",
    _WORKFLOW_LABELS,
    buckets=_LATENCY_MS_BUCKETS,
)
queueing_latency = Histogram(
    f"{_PREFIX}:node:queueing_latency_ms",
    "Milliseconds between a node being QUEUED and its handler reporting RUNNING",
    _WORKFLOW_LABELS,
    buckets=_LATENCY_MS_BUCKETS,
)
transition_latency = Histogram(
    f"{_PREFIX}:node:transition_latency_ms",
    "Milliseconds from a node's latest upstream finishing (or its failed attempt) to the node starting",
    _WORKFLOW_LABELS,
    buckets=(1, 2.5, *_LATENCY_MS_BUCKETS),  # the target is <= 3 ms
)
node_success_duration = Histogram(
    f"{_PREFIX}:node:success_duration_ms",
    "Milliseconds from a node being QUEUED to it SUCCEEDING",
    _WORKFLOW_LABELS,
    buckets=_DURATION_MS_BUCKETS,
)
node_failure_duration = Histogram(
    f"{_PREFIX}:node:failure_duration_ms",
    "Milliseconds from a node being QUEUED to it failing",
    _WORKFLOW_LABELS,
    buckets=_DURATION_MS_BUCKETS,
)
