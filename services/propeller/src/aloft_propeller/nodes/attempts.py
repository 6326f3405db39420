"""Attempt rules, shared by the node executor (a node's attempts) and the array handler (each element's attempts).

- Retry budget: USER failures use the node's retries (flytekit copies the task's onto the node; a non-zero node value
  overrides it, as with_overrides does), else the task's; SYSTEM failures use their own budget
  (``propeller.max-node-retries-for-system-failures``) and do not spend the user one.
- Attempt deadline: the task's ``metadata.timeout`` bounds each attempt; an attempt past it is aborted and retried
  within the budget. (The node's own ``metadata.timeout`` bounds all attempts together: the executor's rule.)
"""

from __future__ import annotations

from datetime import timedelta

from flyteidl.core import tasks_pb2, workflow_pb2

from aloft_propeller.execution_error import ErrorKind, ExecutionError


def user_retries(node: workflow_pb2.Node, template: tasks_pb2.TaskTemplate | None) -> int:
    if node.metadata.retries.retries > 0:
        return node.metadata.retries.retries
    return template.metadata.retries.retries if template is not None else 0


def attempt_timeout(template: tasks_pb2.TaskTemplate | None) -> timedelta | None:
    if template is not None and template.metadata.HasField("timeout") and template.metadata.timeout.ToTimedelta():
        return template.metadata.timeout.ToTimedelta()
    return None


def attempt_expired(timeout: timedelta | None, started: float | None, now: float) -> bool:
    return timeout is not None and started is not None and now - started > timeout.total_seconds()


def retry_after(
    error: ExecutionError, attempt: int, system_failures: int, user_budget: int, system_budget: int
) -> int | None:
    """After attempt ``attempt`` (0-based) failed with ``error``: the system-failure count the next attempt starts
    with, or None when the budget for this kind of failure is spent."""
    if error.kind == ErrorKind.SYSTEM:
        return system_failures + 1 if system_failures < system_budget else None
    user_failures = attempt + 1 - system_failures
    return system_failures if user_failures <= user_budget else None
