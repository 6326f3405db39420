"""Request fields a REST URL implies without carrying them.

``GET /api/v1/tasks/{id.project}/{id.domain}/{id.name}/{id.version}`` names a task, but the path has no
``id.resource_type``. flyteadmin's handlers fill it in ("the resource type is implicit from the URL"); the
gateway does it here, once, for the same RPCs, and only when the caller left it UNSPECIFIED.
"""

from __future__ import annotations

from flyteidl.core import identifier_pb2
from google.protobuf.message import Message

# RPC method name → (dotted path of the Identifier field, its implied resource type)
IMPLICIT_RESOURCE_TYPES: dict[str, tuple[str, int]] = {
    "GetTask": ("id", identifier_pb2.TASK),
    "GetWorkflow": ("id", identifier_pb2.WORKFLOW),
    "GetLaunchPlan": ("id", identifier_pb2.LAUNCH_PLAN),
    "UpdateLaunchPlan": ("id", identifier_pb2.LAUNCH_PLAN),
    "GetTaskExecution": ("id.task_id", identifier_pb2.TASK),
    "GetTaskExecutionData": ("id.task_id", identifier_pb2.TASK),
    "ListNodeExecutionsForTask": ("task_execution_id.task_id", identifier_pb2.TASK),
}


def fill_implicit_fields(method_name: str, request: Message) -> None:
    implied = IMPLICIT_RESOURCE_TYPES.get(method_name)
    if implied is None:
        return
    path, resource_type = implied
    target: Message = request
    for part in path.split("."):
        if not target.HasField(part):
            return
        target = getattr(target, part)
    if isinstance(target, identifier_pb2.Identifier) and target.resource_type == identifier_pb2.UNSPECIFIED:
        target.resource_type = resource_type  # type: ignore[assignment]
