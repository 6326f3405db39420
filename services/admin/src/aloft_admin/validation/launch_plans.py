"""CreateLaunchPlan validation, after flyteadmin's validation/launch_plan_validator.go.

Inputs: fixed inputs must name workflow inputs with matching literal types, default inputs must name workflow
inputs with castable types; the expected inputs (defaults plus every unbound workflow input as required) replace
``spec.default_inputs`` as flyteadmin does. Schedules: cron (``cron_expression`` or ``cron_schedule.schedule``
with an optional ISO 8601 ``offset``) or a positive fixed ``rate``; a scheduled launch plan may leave no required
input unbound except ``kickoff_time_input_arg``, which must be a datetime input.
"""

from __future__ import annotations

import re

from croniter import croniter
from flyteidl.admin import common_pb2, launch_plan_pb2, schedule_pb2
from flyteidl.core import identifier_pb2, interface_pb2, types_pb2

import aloft_compiler
from aloft_admin.validation.identifiers import missing, validate_identifier
from aloft_service.errors import InvalidArgument

_ISO_DURATION = re.compile(r"^-?P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_CRON_ALIASES = {"hourly", "daily", "weekly", "monthly", "yearly", "annually"}


def validate_request_shape(request: launch_plan_pb2.LaunchPlanCreateRequest) -> None:
    validate_identifier(request.id, identifier_pb2.LAUNCH_PLAN)
    if not request.HasField("spec"):
        raise missing("spec")
    validate_identifier(request.spec.workflow_id, identifier_pb2.WORKFLOW, field="workflow_id")
    validate_notifications(list(request.spec.entity_metadata.notifications))


def expected_inputs(
    spec: launch_plan_pb2.LaunchPlanSpec, workflow_interface: interface_pb2.TypedInterface
) -> interface_pb2.ParameterMap:
    """The ParameterMap callers see; InvalidArgument naming each offending input."""
    try:
        aloft_compiler.validate_parameter_map(spec.default_inputs)
        return aloft_compiler.launch_plan_expected_inputs(
            workflow_interface.inputs, spec.default_inputs, spec.fixed_inputs
        )
    except aloft_compiler.CompileErrors as errors:
        raise InvalidArgument(f"invalid launch plan inputs: {errors}") from errors


def schedule_type(schedule: schedule_pb2.Schedule) -> str:
    if schedule.cron_expression or schedule.HasField("cron_schedule"):
        return "CRON"
    if schedule.HasField("rate"):
        return "RATE"
    return "NONE"


def validate_schedule(spec: launch_plan_pb2.LaunchPlanSpec, expected: interface_pb2.ParameterMap) -> None:
    if not spec.entity_metadata.HasField("schedule"):
        return
    schedule = spec.entity_metadata.schedule
    kind = schedule_type(schedule)
    if kind == "NONE":
        raise InvalidArgument("schedule must set one of cron_expression, cron_schedule or rate")
    if schedule.cron_expression:
        _validate_cron(schedule.cron_expression, "schedule.cron_expression")
    elif schedule.HasField("cron_schedule"):
        _validate_cron(schedule.cron_schedule.schedule, "schedule.cron_schedule.schedule")
        offset = schedule.cron_schedule.offset
        if offset and not _ISO_DURATION.match(offset):
            raise InvalidArgument(f"invalid schedule.cron_schedule.offset [{offset}]: expected an ISO 8601 duration")
    elif schedule.rate.value <= 0:
        raise InvalidArgument(f"invalid schedule.rate.value [{schedule.rate.value}]: must be greater than 0")
    _validate_scheduled_inputs(schedule, expected)


def _validate_cron(expression: str, field: str) -> None:
    if not expression:
        raise missing(field)
    if expression.lstrip("@") in _CRON_ALIASES:
        return
    if not croniter.is_valid(expression):
        raise InvalidArgument(f"invalid {field} [{expression}]: not a valid cron expression")


def _validate_scheduled_inputs(schedule: schedule_pb2.Schedule, expected: interface_pb2.ParameterMap) -> None:
    kickoff = schedule.kickoff_time_input_arg
    for name, parameter in sorted(expected.parameters.items()):
        if parameter.required and name != kickoff:
            raise InvalidArgument(
                "Cannot create a launch plan with a schedule if there is an unbound required input. "
                f"[{name}] is required"
            )
    if not kickoff:
        return
    if kickoff not in expected.parameters:
        raise InvalidArgument(
            "Cannot create a schedule with a KickoffTimeInputArg that does not point to a free input. "
            f"[{kickoff}] is not free or does not exist."
        )
    if expected.parameters[kickoff].var.type.simple != types_pb2.DATETIME:
        raise InvalidArgument(f"KickoffTimeInputArg must reference a datetime input. [{kickoff}] is not a datetime")


def validate_notifications(notifications: list[common_pb2.Notification]) -> None:
    for index, notification in enumerate(notifications):
        if not notification.phases:
            raise InvalidArgument(f"notifications[{index}]: missing phases")
        target = notification.WhichOneof("type")
        if target is None:
            raise InvalidArgument(f"notifications[{index}]: missing one of email, pager_duty, slack")
        if not getattr(notification, target).recipients_email:
            raise InvalidArgument(f"notifications[{index}].{target}: missing recipients_email")
