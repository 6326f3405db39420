"""Attempt rules shared by the node executor and the array handler: retry budgets by error kind, attempt deadlines."""

from __future__ import annotations

from datetime import timedelta

from flyteidl.core import literals_pb2, tasks_pb2, workflow_pb2
from google.protobuf import duration_pb2

from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.nodes import attempts

USER = ExecutionError("USER:ValueError", "bad input", ErrorKind.USER)
SYSTEM = ExecutionError("SYSTEM:Lost", "process lost", ErrorKind.SYSTEM)


def _template(retries: int = 0, timeout_seconds: int = 0) -> tasks_pb2.TaskTemplate:
    metadata = tasks_pb2.TaskMetadata(retries=literals_pb2.RetryStrategy(retries=retries))
    if timeout_seconds:
        metadata.timeout.CopyFrom(duration_pb2.Duration(seconds=timeout_seconds))
    return tasks_pb2.TaskTemplate(metadata=metadata)


def _node(retries: int = 0) -> workflow_pb2.Node:
    return workflow_pb2.Node(
        id="n", metadata=workflow_pb2.NodeMetadata(retries=literals_pb2.RetryStrategy(retries=retries))
    )


def test_user_retries_come_from_the_node_override_else_the_task() -> None:
    assert attempts.user_retries(_node(), _template(retries=2)) == 2
    assert attempts.user_retries(_node(retries=5), _template(retries=2)) == 5
    assert attempts.user_retries(_node(), None) == 0


def test_user_failures_spend_the_user_budget_only() -> None:
    assert attempts.retry_after(USER, attempt=0, system_failures=0, user_budget=1, system_budget=3) == 0
    assert attempts.retry_after(USER, attempt=1, system_failures=0, user_budget=1, system_budget=3) is None
    # attempt 2 after one system failure is only the second user failure
    assert attempts.retry_after(USER, attempt=1, system_failures=1, user_budget=1, system_budget=3) == 1


def test_system_failures_spend_their_own_budget() -> None:
    assert attempts.retry_after(SYSTEM, attempt=0, system_failures=0, user_budget=0, system_budget=2) == 1
    assert attempts.retry_after(SYSTEM, attempt=1, system_failures=1, user_budget=0, system_budget=2) == 2
    assert attempts.retry_after(SYSTEM, attempt=2, system_failures=2, user_budget=9, system_budget=2) is None


def test_an_attempt_expires_after_the_task_timeout() -> None:
    timeout = attempts.attempt_timeout(_template(timeout_seconds=30))
    assert timeout == timedelta(seconds=30)
    assert attempts.attempt_timeout(_template()) is None and attempts.attempt_timeout(None) is None
    assert not attempts.attempt_expired(timeout, started=100.0, now=130.0)
    assert attempts.attempt_expired(timeout, started=100.0, now=130.5)
    assert not attempts.attempt_expired(timeout, started=None, now=1e9)
    assert not attempts.attempt_expired(None, started=0.0, now=1e9)
