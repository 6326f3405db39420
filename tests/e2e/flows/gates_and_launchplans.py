"""Flows for launch-plan nodes and gate nodes (issue 6), registered with the rest of tests/e2e/flows."""

from __future__ import annotations

from datetime import timedelta

from flytekit import LaunchPlan, approve, sleep, task, wait_for_input, workflow


@task
def plus(a: int, b: int) -> int:
    return a + b


@task
def times_ten(x: int) -> int:
    return x * 10


@workflow
def child_wf(x: int = 2) -> int:
    return times_ten(x=x)


child_lp = LaunchPlan.get_or_create(child_wf, name="gl_child_lp", default_inputs={"x": 2})


@workflow
def calls_launch_plan(x: int) -> int:
    """Two child executions: one with an input, one with the launch plan's default."""
    explicit = child_lp(x=x)
    defaulted = child_lp()
    return plus(a=explicit, b=defaulted)


@workflow
def sleeps(x: int) -> int:
    nap = sleep(timedelta(seconds=2))
    result = times_ten(x=x)
    nap >> result
    return result


@workflow
def waits_for_approval(x: int) -> int:
    scaled = times_ten(x=x)
    extra = wait_for_input("extra", timeout=timedelta(minutes=10), expected_type=int)
    approved = approve(scaled, "approve-scaled", timeout=timedelta(minutes=10))
    return plus(a=approved, b=extra)


@workflow
def times_out_waiting(x: int) -> int:
    extra = wait_for_input("never-set", timeout=timedelta(seconds=3), expected_type=int)
    return plus(a=x, b=extra)


@workflow
def held_child(x: int) -> int:
    held = wait_for_input("held", timeout=timedelta(minutes=10), expected_type=int)
    return plus(a=x, b=held)


held_child_lp = LaunchPlan.get_or_create(held_child, name="gl_held_child_lp")


@workflow
def calls_held_child(x: int) -> int:
    return held_child_lp(x=x)
