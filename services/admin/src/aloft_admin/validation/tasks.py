"""CreateTask validation, after flyteadmin's validation/task_validator.go (InvalidArgument naming the field)."""

from __future__ import annotations

from decimal import Decimal

from flyteidl.admin import task_pb2
from flyteidl.core import identifier_pb2, tasks_pb2

from aloft_admin.config import ResourceSet
from aloft_admin.validation.identifiers import missing, require, validate_identifier
from aloft_admin.validation.quantities import parse_quantity
from aloft_service.errors import InvalidArgument

_R = tasks_pb2.Resources
_CHECKED = {_R.CPU: "cpu", _R.MEMORY: "memory", _R.GPU: "gpu", _R.EPHEMERAL_STORAGE: "ephemeralStorage"}


def validate_task_request(request: task_pb2.TaskCreateRequest, limits: ResourceSet) -> None:
    """Shape checks that need no database (project/domain registration is checked by the manager)."""
    validate_identifier(request.id, identifier_pb2.TASK)
    if not request.HasField("spec") or not request.spec.HasField("template"):
        raise missing("spec")
    template = request.spec.template
    require(template.type, "type")
    if not template.HasField("metadata"):
        raise missing("metadata")
    if template.metadata.HasField("runtime"):
        require(template.metadata.runtime.version, "runtime version")
    if not template.HasField("interface"):
        raise missing("typed interface")
    if template.HasField("container"):
        require(template.container.image, "image")
        if template.container.HasField("resources"):
            validate_resources(request.id.name, template.container.resources, limits)


def _quantities(task: str, entries: list[tasks_pb2.Resources.ResourceEntry]) -> dict[int, Decimal]:
    parsed: dict[int, Decimal] = {}
    for entry in entries:
        if entry.name not in _CHECKED:
            continue
        name = _R.ResourceName.Name(entry.name)
        if entry.name in parsed:
            raise InvalidArgument(f"can't specify {name} limit for task [{task}] multiple times")
        try:
            parsed[entry.name] = parse_quantity(entry.value)
        except ValueError as exc:
            raise InvalidArgument(
                f"Parsing of {name} request failed for value {entry.value} - reason {exc}. "
                "Please follow K8s conventions for resources"
            ) from exc
        if entry.name == _R.GPU and parsed[entry.name] % 1 != 0:
            raise InvalidArgument(f"gpu for [{task}] must be a whole number, got: {entry.value} instead")
    return parsed


def validate_resources(task: str, resources: tasks_pb2.Resources, platform: ResourceSet) -> None:
    requests = _quantities(task, list(resources.requests))
    limits = _quantities(task, list(resources.limits))
    for resource, requested in requests.items():
        name = _R.ResourceName.Name(resource)
        platform_text = getattr(platform, _CHECKED[resource])
        platform_limit = parse_quantity(platform_text) if platform_text else None
        limit = limits.get(resource)
        if resource == _R.GPU and limit is not None and limit != requested:
            raise InvalidArgument(
                f"For extended resource 'gpu' the default value must equal the limit value for task [{task}]"
            )
        if limit is not None and limit < requested:
            raise InvalidArgument(f"Requested {name} default [{requested}] is greater than the limit [{limit}].")
        if limit is not None and platform_limit is not None and limit > platform_limit:
            raise InvalidArgument(
                f"Requested {name} limit [{limit}] is greater than current limit set in the platform configuration"
                f" [{platform_text}]"
            )
        if platform_limit is not None and requested > platform_limit:
            raise InvalidArgument(
                f"Requested {name} default [{requested}] is greater than current limit set in the platform "
                f"configuration [{platform_text}]"
            )
