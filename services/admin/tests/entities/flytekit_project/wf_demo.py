"""A flytekit module for the registration test: tasks, a workflow with a sub-workflow and a map_task, launch plans."""

from flytekit import CronSchedule, LaunchPlan, map_task, task, workflow


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def greet(name: str, n: int) -> str:
    return f"hello {name} {n}"


@workflow
def sub_wf(x: int) -> int:
    return square(x=x)


@workflow
def main_wf(xs: list[int] = [1, 2, 3], name: str = "world") -> str:  # noqa: B006 (a flytekit default input)
    squares = map_task(square)(x=xs)
    t = total(xs=squares)
    s = sub_wf(x=t)
    return greet(name=name, n=s)


main_lp = LaunchPlan.get_or_create(main_wf, name="main_wf_lp", default_inputs={"name": "lp"})
sched_lp = LaunchPlan.get_or_create(main_wf, name="main_wf_sched", schedule=CronSchedule(schedule="*/10 * * * *"))
