"""A scheduled launch plan (issue 18), registered INACTIVE with the rest of tests/e2e/flows; the test activates it."""

from __future__ import annotations

from datetime import datetime, timedelta

from flytekit import FixedRate, LaunchPlan, task, workflow


@task
def stamp(kickoff_time: datetime) -> str:
    return kickoff_time.isoformat()


@workflow
def stamped(kickoff_time: datetime) -> str:
    return stamp(kickoff_time=kickoff_time)


every_minute = LaunchPlan.get_or_create(
    stamped,
    name="sched_every_minute",
    schedule=FixedRate(duration=timedelta(minutes=1), kickoff_time_input_arg="kickoff_time"),
)
