"""A connector's ``Resource`` → the plugin's phase (flyteplugins connector Status): phases, the deprecated ``state``
when the phase is UNDEFINED, log links, custom info, and the error code a connector reports in ``agent_error``."""

from __future__ import annotations

from datetime import UTC, datetime

from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2

from aloft_propeller.plugins.base import ErrorKind, ExecutionError, Phase, PhaseInfo, TaskLog

TASK_FAILED = "TaskFailedWithError"  # flyteplugins errors.TaskFailedWithError

_RUNNING_PHASES = {
    execution_pb2.TaskExecution.QUEUED: Phase.QUEUED,
    execution_pb2.TaskExecution.WAITING_FOR_RESOURCES: Phase.WAITING_FOR_RESOURCES,
    execution_pb2.TaskExecution.INITIALIZING: Phase.INITIALIZING,
    execution_pb2.TaskExecution.RUNNING: Phase.RUNNING,
}
_RUNNING_STATES = {agent_pb2.PENDING: Phase.INITIALIZING, agent_pb2.RUNNING: Phase.RUNNING}


def report_of(resource: agent_pb2.Resource) -> str:
    """What, besides outputs, identifies one report of the connector (a change is worth a new event version)."""
    logs = "|".join(f"{log.name}={log.uri}" for log in resource.log_links)
    info = resource.custom_info.SerializeToString(deterministic=True).hex() if resource.HasField("custom_info") else ""
    return f"{resource.phase}:{resource.state}:{resource.message}:{logs}:{info}"


def _failure(resource: agent_pb2.Resource, phase: Phase, message: str) -> ExecutionError:
    error = resource.agent_error
    code = error.code or TASK_FAILED
    kind = ErrorKind.SYSTEM if error.origin == execution_pb2.ExecutionError.SYSTEM else ErrorKind.USER
    return ExecutionError(code, message, kind, recoverable=phase == Phase.RETRYABLE_FAILURE)


def phase_of(resource: agent_pb2.Resource, version: int) -> PhaseInfo:
    """SUCCESS means the connector says so; writing its outputs is the plugin's job."""
    now = datetime.now(UTC)
    logs = tuple(TaskLog(name=log.name, uri=log.uri) for log in resource.log_links)
    info = resource.custom_info if resource.HasField("custom_info") else None

    def answer(phase: Phase, reason: str = "", error: ExecutionError | None = None) -> PhaseInfo:
        return PhaseInfo(phase, version, reason, now, logs, error, info)

    def failed(phase: Phase, message: str) -> PhaseInfo:
        return answer(phase, message, _failure(resource, phase, message))

    task_phase = resource.phase
    if task_phase in _RUNNING_PHASES:
        return answer(_RUNNING_PHASES[task_phase], resource.message)
    if task_phase == execution_pb2.TaskExecution.SUCCEEDED:
        return answer(Phase.SUCCESS, resource.message)
    if task_phase == execution_pb2.TaskExecution.ABORTED:
        return failed(Phase.PERMANENT_FAILURE, "failed to run the job with aborted phase.")
    if task_phase == execution_pb2.TaskExecution.FAILED:
        return failed(Phase.PERMANENT_FAILURE, f"failed to run the job: {resource.message}")
    if task_phase == execution_pb2.TaskExecution.RETRYABLE_FAILED:
        return failed(Phase.RETRYABLE_FAILURE, f"failed to run the job: {resource.message}")
    if task_phase != execution_pb2.TaskExecution.UNDEFINED:
        return _unknown(f"unknown execution phase [{task_phase}]")
    # Connectors written before `phase` existed report the deprecated `state`.
    if resource.state in _RUNNING_STATES:
        return answer(_RUNNING_STATES[resource.state], resource.message)
    if resource.state == agent_pb2.SUCCEEDED:
        return answer(Phase.SUCCESS, resource.message)
    if resource.state == agent_pb2.PERMANENT_FAILURE:
        return failed(Phase.PERMANENT_FAILURE, f"failed to run the job.\n{resource.message}")
    if resource.state == agent_pb2.RETRYABLE_FAILURE:
        return failed(Phase.RETRYABLE_FAILURE, f"failed to run the job.\n{resource.message}")
    return _unknown(f"unknown execution state [{resource.state}]")


def _unknown(message: str) -> PhaseInfo:
    # Flyte returns a system error for the round; here the attempt fails as a retryable system error instead.
    error = ExecutionError("UnknownConnectorPhase", message, ErrorKind.SYSTEM, recoverable=True)
    return PhaseInfo(Phase.RETRYABLE_FAILURE, reason=message, occurred_at=datetime.now(UTC), error=error)
