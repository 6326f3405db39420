"""Identifier and request-shape validation shared by the entity RPCs (InvalidArgument naming the field)."""

from __future__ import annotations

import re

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from aloft_service.errors import InvalidArgument

_RESOURCE_NAMES = {v: k for k, v in identifier_pb2.ResourceType.items()}
# Kubernetes DNS-1123 label, which flyteadmin requires of project ids.
_DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def missing(field: str) -> InvalidArgument:
    return InvalidArgument(f"missing {field}")


def require(value: str, field: str) -> None:
    if not value:
        raise missing(field)


def check_length(value: str, field: str, max_length: int) -> None:
    if len(value) > max_length:
        raise InvalidArgument(f"{field} [{value}] is too long: {len(value)} > {max_length} characters")


def resource_type_name(resource_type: int) -> str:
    return _RESOURCE_NAMES.get(resource_type, str(resource_type))


def validate_identifier(id: identifier_pb2.Identifier, expected: int, max_name_length: int, field: str = "id") -> None:
    """project, domain, name, version set; resource type as expected; name within the length limit."""
    if not id.ByteSize():
        raise missing(field)
    if id.resource_type != expected:
        raise InvalidArgument(
            f"unexpected resource type {resource_type_name(id.resource_type)} for identifier [{field}], "
            f"expected {resource_type_name(expected)} instead"
        )
    require(id.project, "project")
    require(id.domain, "domain")
    require(id.name, "name")
    require(id.version, "version")
    check_length(id.name, "name", max_name_length)


def validate_named_identifier(id: common_pb2.NamedEntityIdentifier, *, name_required: bool = True) -> None:
    require(id.project, "project")
    require(id.domain, "domain")
    if name_required:
        require(id.name, "name")


def validate_project_id(project_id: str, max_length: int = 63) -> None:
    require(project_id, "project_id")
    check_length(project_id, "project_id", max_length)
    if not _DNS_1123_LABEL.match(project_id):
        raise InvalidArgument(
            f"invalid project_id [{project_id}]: must be a lowercase DNS-1123 label "
            "(letters, digits and '-', starting and ending with a letter or digit)"
        )
