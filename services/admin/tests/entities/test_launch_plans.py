"""Launch plans over real gRPC: create/validate against the workflow, activation, schedules, lists."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, launch_plan_pb2, schedule_pb2
from flyteidl.core import execution_pb2

from aloft_admin.managers import registered_entities as registered

ACTIVE, INACTIVE = launch_plan_pb2.ACTIVE, launch_plan_pb2.INACTIVE


async def expect_error(call: Any, code: grpc.StatusCode, *fragments: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    for fragment in fragments:
        assert fragment in (err.value.details() or ""), err.value.details()


@pytest.fixture
async def workflow_id(admin_stub: Any, entities: Any) -> Any:
    """wf.two(x: int, when: datetime) -> int."""
    task = entities.task_request("tasks.square")
    await admin_stub.CreateTask(task)
    request = entities.simple_workflow("wf.two", task.id)
    request.spec.template.interface.inputs.variables["when"].type.CopyFrom(entities.DATETIME)
    await admin_stub.CreateWorkflow(request)
    return request.id


async def test_create_get_and_expected_inputs(admin_stub: Any, entities: Any, workflow_id: Any) -> None:
    request = entities.launch_plan_request(
        "wf.two", workflow_id, defaults={"x": (entities.INT, entities.int_literal(3))}
    )
    request.spec.entity_metadata.notifications.append(
        common_pb2.Notification(
            phases=[execution_pb2.WorkflowExecution.FAILED],
            email=common_pb2.EmailNotification(recipients_email=["ops@example.com"]),
        )
    )
    await admin_stub.CreateLaunchPlan(request)
    got = await admin_stub.GetLaunchPlan(common_pb2.ObjectGetRequest(id=request.id))
    assert got.closure.state == INACTIVE
    expected = got.closure.expected_inputs.parameters
    assert expected["x"].default.scalar.primitive.integer == 3 and not expected["x"].required
    assert expected["when"].required
    assert set(got.closure.expected_outputs.variables) == {"o0"}
    assert got.spec.entity_metadata.notifications[0].email.recipients_email == ["ops@example.com"]
    assert set(got.spec.default_inputs.parameters) == {"x", "when"}

    await expect_error(admin_stub.CreateLaunchPlan(request), grpc.StatusCode.ALREADY_EXISTS, "identical structure")
    changed = entities.launch_plan_request(
        "wf.two", workflow_id, defaults={"x": (entities.INT, entities.int_literal(4))}
    )
    await expect_error(admin_stub.CreateLaunchPlan(changed), grpc.StatusCode.INVALID_ARGUMENT, "different structure")


async def test_input_validation(admin_stub: Any, entities: Any, workflow_id: Any) -> None:
    cases = [
        ({"fixed": {"nope": entities.int_literal(1)}}, "nope"),
        ({"fixed": {"x": entities.str_literal("text")}}, "x"),
        ({"defaults": {"y": (entities.INT, entities.int_literal(1))}}, "y"),
        ({"defaults": {"x": (entities.STR, entities.str_literal("s"))}}, "x"),
    ]
    for index, (kwargs, name) in enumerate(cases):
        request = entities.launch_plan_request(f"lp.bad{index}", workflow_id, **kwargs)
        await expect_error(admin_stub.CreateLaunchPlan(request), grpc.StatusCode.INVALID_ARGUMENT, name)
    missing_wf = entities.launch_plan_request("lp.nowf", entities.workflow_id("wf.none"))
    await expect_error(admin_stub.CreateLaunchPlan(missing_wf), grpc.StatusCode.NOT_FOUND, "wf.none")
    fixed_ok = entities.launch_plan_request("lp.fixed", workflow_id, fixed={"x": entities.int_literal(9)})
    await admin_stub.CreateLaunchPlan(fixed_ok)
    got = await admin_stub.GetLaunchPlan(common_pb2.ObjectGetRequest(id=fixed_ok.id))
    assert set(got.closure.expected_inputs.parameters) == {"when"}
    # workflow.* filters select by the launched workflow, not the launch plan's own name.
    by_workflow = await admin_stub.ListLaunchPlans(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain),
            limit=10,
            filters="eq(workflow.name,wf.two)+eq(workflow.version,v1)",
        )
    )
    assert [lp.id.name for lp in by_workflow.launch_plans] == ["lp.fixed"]
    none = await admin_stub.ListLaunchPlans(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain),
            limit=10,
            filters="eq(workflow.name,lp.fixed)",
        )
    )
    assert list(none.launch_plans) == []


async def test_schedules(admin_server: Any, admin_stub: Any, entities: Any, workflow_id: Any) -> None:
    def scheduled(name: str, schedule: schedule_pb2.Schedule) -> launch_plan_pb2.LaunchPlanCreateRequest:
        request = entities.launch_plan_request(name, workflow_id, fixed={"x": entities.int_literal(1)})
        request.spec.entity_metadata.schedule.CopyFrom(schedule)
        return request

    ok = [
        schedule_pb2.Schedule(cron_expression="*/5 * * * *", kickoff_time_input_arg="when"),
        schedule_pb2.Schedule(
            cron_schedule=schedule_pb2.CronSchedule(schedule="@hourly", offset="PT5M"), kickoff_time_input_arg="when"
        ),
        schedule_pb2.Schedule(
            rate=schedule_pb2.FixedRate(value=10, unit=schedule_pb2.MINUTE), kickoff_time_input_arg="when"
        ),
    ]
    for index, schedule in enumerate(ok):
        await admin_stub.CreateLaunchPlan(scheduled(f"lp.ok{index}", schedule))
    rate_id = entities.launch_plan_id("lp.ok2")
    await admin_stub.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=rate_id, state=ACTIVE))
    async with admin_server.deps.repos.transaction() as tx:
        active = await registered.active_scheduled_launch_plans(tx)
    assert [lp.id for lp in active] == [rate_id]
    assert active[0].spec.entity_metadata.schedule.rate.value == 10
    listed = await admin_stub.ListLaunchPlans(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain),
            limit=10,
            filters="eq(schedule_type,RATE)",
        )
    )
    assert [lp.id.name for lp in listed.launch_plans] == ["lp.ok2"]
    bad = [
        (schedule_pb2.Schedule(cron_expression="every day", kickoff_time_input_arg="when"), "cron_expression"),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="@hourly", offset="5 minutes")),
            "offset",
        ),
        (schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=0), kickoff_time_input_arg="when"), "rate.value"),
        (schedule_pb2.Schedule(cron_expression="0 * * * *"), "[when] is required"),
    ]
    for index, (schedule, fragment) in enumerate(bad):
        await expect_error(
            admin_stub.CreateLaunchPlan(scheduled(f"lp.bad{index}", schedule)),
            grpc.StatusCode.INVALID_ARGUMENT,
            fragment,
        )
    all_fixed = entities.launch_plan_request(
        "lp.free", workflow_id, fixed={"x": entities.int_literal(1), "when": _datetime_literal()}
    )
    all_fixed.spec.entity_metadata.schedule.CopyFrom(
        schedule_pb2.Schedule(cron_expression="0 * * * *", kickoff_time_input_arg="when")
    )
    await expect_error(admin_stub.CreateLaunchPlan(all_fixed), grpc.StatusCode.INVALID_ARGUMENT, "[when] is not free")
    not_datetime = entities.launch_plan_request("lp.kick", workflow_id, fixed={"when": _datetime_literal()})
    not_datetime.spec.entity_metadata.schedule.CopyFrom(
        schedule_pb2.Schedule(cron_expression="0 * * * *", kickoff_time_input_arg="x")
    )
    not_datetime.spec.default_inputs.parameters["x"].var.type.CopyFrom(entities.INT)
    not_datetime.spec.default_inputs.parameters["x"].default.CopyFrom(entities.int_literal(1))
    await expect_error(
        admin_stub.CreateLaunchPlan(not_datetime), grpc.StatusCode.INVALID_ARGUMENT, "must reference a datetime"
    )


def _datetime_literal() -> Any:
    from flyteidl.core import literals_pb2

    literal = literals_pb2.Literal()
    literal.scalar.primitive.datetime.FromSeconds(1_700_000_000)
    return literal


async def test_activation_keeps_one_active_version(admin_stub: Any, entities: Any, workflow_id: Any) -> None:
    defaults = {"x": (entities.INT, entities.int_literal(1)), "when": (entities.DATETIME, _datetime_literal())}
    ids = []
    for version in ("v1", "v2", "v3"):
        request = entities.launch_plan_request("wf.two", workflow_id, version, defaults=defaults)
        await admin_stub.CreateLaunchPlan(request)
        ids.append(request.id)
    name = common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain, name="wf.two")
    await expect_error(
        admin_stub.GetActiveLaunchPlan(launch_plan_pb2.ActiveLaunchPlanRequest(id=name)),
        grpc.StatusCode.NOT_FOUND,
        "wf.two",
    )
    await admin_stub.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=ids[0], state=ACTIVE))
    await admin_stub.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=ids[1], state=ACTIVE))
    active = await admin_stub.GetActiveLaunchPlan(launch_plan_pb2.ActiveLaunchPlanRequest(id=name))
    assert active.id.version == "v2" and active.closure.state == ACTIVE
    first = await admin_stub.GetLaunchPlan(common_pb2.ObjectGetRequest(id=ids[0]))
    assert first.closure.state == INACTIVE
    # Re-activating the active version keeps it active.
    await admin_stub.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=ids[1], state=ACTIVE))
    assert (await admin_stub.GetActiveLaunchPlan(launch_plan_pb2.ActiveLaunchPlanRequest(id=name))).id.version == "v2"

    # Concurrent activations: whatever wins, exactly one version ends up active.
    results = await asyncio.gather(
        *(admin_stub.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=i, state=ACTIVE)) for i in ids),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, grpc.aio.AioRpcError):
            assert result.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE), result.details()
    listed = await admin_stub.ListLaunchPlans(
        common_pb2.ResourceListRequest(id=name, limit=10, filters="eq(state,ACTIVE)")
    )
    assert len(listed.launch_plans) == 1
    active_list = await admin_stub.ListActiveLaunchPlans(
        launch_plan_pb2.ActiveLaunchPlanListRequest(project=entities.project, domain=entities.domain, limit=10)
    )
    assert [lp.id.name for lp in active_list.launch_plans] == ["wf.two"]

    await admin_stub.UpdateLaunchPlan(
        launch_plan_pb2.LaunchPlanUpdateRequest(id=listed.launch_plans[0].id, state=INACTIVE)
    )
    await expect_error(
        admin_stub.GetActiveLaunchPlan(launch_plan_pb2.ActiveLaunchPlanRequest(id=name)),
        grpc.StatusCode.NOT_FOUND,
        "wf.two",
    )
    lp_ids = await admin_stub.ListLaunchPlanIds(
        common_pb2.NamedEntityIdentifierListRequest(project=entities.project, domain=entities.domain, limit=10)
    )
    assert [e.name for e in lp_ids.entities] == ["wf.two"]
    await expect_error(
        admin_stub.UpdateLaunchPlan(
            launch_plan_pb2.LaunchPlanUpdateRequest(id=entities.launch_plan_id("lp.none"), state=ACTIVE)
        ),
        grpc.StatusCode.NOT_FOUND,
        "lp.none",
    )
