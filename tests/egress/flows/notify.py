"""Workflows for the egress scenarios: one that succeeds through two tasks, one whose launch plan emails on
failure."""

from __future__ import annotations

from flytekit import Email, LaunchPlan, task, workflow
from flytekit.models.core.execution import WorkflowExecutionPhase


@task
def add_one(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return x * 2


@workflow
def chain(x: int = 1) -> int:
    return double(x=add_one(x=add_one(x=x)))


@task
def explode(x: int) -> int:
    if x != 0:
        raise ValueError(f"boom: x was {x}")
    return x


@workflow
def failing(x: int = 3) -> int:
    return explode(x=x)


failing_notifies = LaunchPlan.get_or_create(
    failing,
    name="failing_notifies",
    notifications=[
        Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["oncall@example.com"]),
        Email(phases=[WorkflowExecutionPhase.SUCCEEDED], recipients_email=["happy@example.com"]),
    ],
)
