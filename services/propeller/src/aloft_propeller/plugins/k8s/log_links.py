"""Log links of a pod (Flyte's tasklog templates): `{{ .podName }}`, `{{ .podUID }}`, `{{ .namespace }}`,
`{{ .containerName }}`, `{{ .containerId }}`, `{{ .logName }}`, `{{ .hostname }}`, `{{ .nodeName }}`,
`{{ .podRFC3339StartTime }}`, `{{ .podRFC3339FinishTime }}`, `{{ .podUnixStartTime }}`, `{{ .podUnixFinishTime }}`,
plus the execution's (`executionName`, `executionProject`, `executionDomain`, `nodeId`, `taskID`, `taskVersion`,
`taskProject`, `taskDomain`, `retryAttempt`/`taskRetryAttempt`, `generatedName`).

Links appear once the pod runs (`showWhilePending: true` also while it is pending) and stay after it ends
(`hideOnceFinished: true` drops them then)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aloft_propeller.config import LogTemplate
from aloft_propeller.plugins.base import Phase, TaskExecutionContext, TaskLog
from aloft_propeller.plugins.k8s.status import container_status, parse_time, started_at
from aloft_propeller.plugins.logs import execution_variables, render_log_links

_PENDING = (Phase.UNDEFINED, Phase.NOT_READY, Phase.WAITING_FOR_RESOURCES, Phase.QUEUED, Phase.INITIALIZING)


def pod_variables(ctx: TaskExecutionContext, pod: dict[str, Any], container: str) -> dict[str, str]:
    meta = pod["metadata"]
    start = started_at(pod) or datetime.now(UTC)
    terminated = ((container_status(pod, container) or {}).get("state") or {}).get("terminated") or {}
    finish = parse_time(terminated.get("finishedAt")) or datetime.now(UTC)
    return {
        **execution_variables(ctx),
        "podName": meta["name"],
        "podUID": meta.get("uid", ""),
        "namespace": meta.get("namespace", ""),
        "containerName": container,
        "containerId": (container_status(pod, container) or {}).get("containerID", ""),
        "logName": meta["name"],
        "hostname": pod.get("spec", {}).get("hostname", "") or meta["name"],
        "nodeName": pod.get("spec", {}).get("nodeName", ""),
        "podRFC3339StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "podRFC3339FinishTime": finish.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "podUnixStartTime": str(int(start.timestamp())),
        "podUnixFinishTime": str(int(finish.timestamp())),
    }


def pod_log_links(
    templates: list[LogTemplate], ctx: TaskExecutionContext, pod: dict[str, Any], container: str, phase: Phase
) -> tuple[TaskLog, ...]:
    pending = phase in _PENDING
    wanted = [
        t for t in templates if (t.showWhilePending or not pending) and not (t.hideOnceFinished and phase.is_terminal)
    ]
    if not wanted:
        return ()
    return render_log_links(wanted, pod_variables(ctx, pod, container))
