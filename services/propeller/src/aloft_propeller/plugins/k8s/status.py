"""A pod's status as a task phase (flyteplugins' pod_helper DemystifyPending / DemystifyFailure rules).

- Pending: scheduled/creating → INITIALIZING, unschedulable → QUEUED; image pull errors past
  `image-pull-backoff-grace-period` → RETRYABLE (USER); CreateContainerConfigError past its grace period →
  PERMANENT (USER, e.g. a missing secret); InvalidImageName → PERMANENT; `pod-pending-timeout` → RETRYABLE SYSTEM.
- Running: RUNNING until the primary container terminates (pods with sidecars stay Running: the primary decides).
- Ended: the task's error.pb wins; OOMKilled → RETRYABLE USER `OOMKilled`; evicted / node lost / shutdown →
  RETRYABLE SYSTEM with that reason; a non-zero exit → RETRYABLE USER with the exit code; exit 0 → SUCCESS (or
  RETRYABLE `OutputsNotFound` when declared outputs were not written).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aloft_propeller.config import K8sPluginConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import ErrorKind, ExecutionError, Phase, PhaseInfo, TaskExecutionContext
from aloft_storage import BlobStore

Obj = dict[str, Any]
SYSTEM_POD_REASONS = (
    "Evicted",
    "NodeLost",
    "Shutdown",
    "NodeShutdown",
    "Terminated",
    "Preempting",
    "UnexpectedAdmissionError",
    "OutOfcpu",
    "OutOfmemory",
)
IMAGE_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "RegistryUnavailable")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _now() -> datetime:
    return datetime.now(UTC)


def failure(phase: Phase, code: str, message: str, kind: ErrorKind, at: datetime | None = None) -> PhaseInfo:
    error = ExecutionError(code=code, message=message, kind=kind, recoverable=phase == Phase.RETRYABLE_FAILURE)
    return PhaseInfo(phase=phase, reason=message[:200], occurred_at=at or _now(), error=error)


def container_status(pod: Obj, name: str) -> Obj | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == name:
            return dict(status)
    return None


def started_at(pod: Obj) -> datetime | None:
    status = pod.get("status") or {}
    return parse_time(status.get("startTime")) or parse_time(pod["metadata"].get("creationTimestamp"))


def _pending(pod: Obj, settings: K8sPluginConfig) -> PhaseInfo:
    created = parse_time(pod["metadata"].get("creationTimestamp")) or _now()
    waited = _now() - created
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            message = condition.get("message") or condition.get("reason") or "waiting to be scheduled"
            return _pending_timeout(waited, settings) or PhaseInfo(Phase.QUEUED, reason=message, occurred_at=created)
    for cstatus in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cstatus.get("state") or {}).get("waiting")
        if not waiting:
            continue
        reason, message = waiting.get("reason", ""), waiting.get("message", "")
        detail = f"[{cstatus.get('name')}] {reason}: {message}".strip()
        if reason in IMAGE_PULL_REASONS and waited > settings.image_pull_backoff_grace_period:
            return failure(Phase.RETRYABLE_FAILURE, reason, f"image could not be pulled: {detail}", ErrorKind.USER)
        if reason == "InvalidImageName":
            return failure(Phase.PERMANENT_FAILURE, reason, detail, ErrorKind.USER)
        if reason == "CreateContainerConfigError" and waited >= settings.create_container_config_error_grace_period:
            return failure(Phase.PERMANENT_FAILURE, reason, detail, ErrorKind.USER)
        if reason == "CreateContainerError" and waited > settings.create_container_error_grace_period:
            return failure(Phase.RETRYABLE_FAILURE, reason, detail, ErrorKind.USER)
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            return _pending_timeout(waited, settings) or PhaseInfo(
                Phase.INITIALIZING, reason=detail, occurred_at=created
            )
    return _pending_timeout(waited, settings) or PhaseInfo(
        Phase.INITIALIZING, reason="pod is being created", occurred_at=created
    )


def _pending_timeout(waited: timedelta, settings: K8sPluginConfig) -> PhaseInfo | None:
    timeout = settings.pod_pending_timeout
    if timeout > timedelta(0) and waited > timeout:
        return failure(
            Phase.RETRYABLE_FAILURE, "PodPendingTimeout", f"pod pending for more than {timeout}", ErrorKind.SYSTEM
        )
    return None


async def pod_phase(
    pod: Obj, primary: str, ctx: TaskExecutionContext, blobs: BlobStore, settings: K8sPluginConfig
) -> PhaseInfo:
    status = pod.get("status") or {}
    phase = status.get("phase", "Pending")
    if phase == "Failed" and status.get("reason") in SYSTEM_POD_REASONS:
        message = status.get("message") or status.get("reason")
        return failure(
            Phase.RETRYABLE_FAILURE, str(status["reason"]), f"pod {status['reason']}: {message}", ErrorKind.SYSTEM
        )
    terminated = ((container_status(pod, primary) or {}).get("state") or {}).get("terminated")
    if terminated is not None:
        return await _ended(terminated, primary, ctx, blobs)
    if phase in ("Succeeded", "Failed"):  # no status for the primary container: the pod says it all
        code = 0 if phase == "Succeeded" else 1
        return await _ended({"exitCode": code, "reason": status.get("reason", "")}, primary, ctx, blobs)
    if phase == "Pending":
        return _pending(pod, settings)
    return PhaseInfo(Phase.RUNNING, reason="pod running", occurred_at=started_at(pod))


async def _ended(terminated: Obj, primary: str, ctx: TaskExecutionContext, blobs: BlobStore) -> PhaseInfo:
    at = parse_time(terminated.get("finishedAt")) or _now()
    error = await io.read_error_document(blobs, ctx.output_prefix)
    if error is not None:
        phase = Phase.RETRYABLE_FAILURE if error.recoverable else Phase.PERMANENT_FAILURE
        return PhaseInfo(phase=phase, reason=error.message[:200], occurred_at=at, error=error)
    code = int(terminated.get("exitCode", 0))
    reason = terminated.get("reason") or ""
    if reason == "OOMKilled":
        message = f"container [{primary}] was OOMKilled (exit code {code}): it used more memory than its limit"
        return failure(Phase.RETRYABLE_FAILURE, "OOMKilled", message, ErrorKind.USER, at)
    if code != 0:
        message = f"container [{primary}] terminated with exit code ({code}). Reason [{reason}]."
        if terminated.get("message"):
            message += f" Message: {terminated['message']}"
        return failure(Phase.RETRYABLE_FAILURE, reason or "Error", message, ErrorKind.USER, at)
    declares_outputs = bool(ctx.template.interface.outputs.variables)
    outputs_missing = declares_outputs and not await blobs.exists(io.outputs_uri(ctx.output_prefix))
    # A dynamic task writes futures.pb (its DynamicJobSpec) instead of outputs: the dynamic node handler runs it.
    if outputs_missing and not await blobs.exists(f"{ctx.output_prefix}/futures.pb"):
        message = "Outputs not generated by task execution"
        return failure(Phase.RETRYABLE_FAILURE, "OutputsNotFound", message, ErrorKind.USER, at)
    return PhaseInfo(Phase.SUCCESS, reason="primary container exited with code 0", occurred_at=at)


def is_finished(pod: Obj, primary: str) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    return bool(((container_status(pod, primary) or {}).get("state") or {}).get("terminated"))
