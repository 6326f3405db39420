"""Identifier and request-shape validation shared by the entity RPCs (InvalidArgument naming the field)."""

from __future__ import annotations

import re

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from aloft_service.errors import InvalidArgument

# The size of the identity columns (String(255)) in repositories/models/entities.py.
MAX_ENTITY_FIELD_LENGTH = 255
# Project ids become Kubernetes namespace parts: a DNS-1123 label.
MAX_PROJECT_ID_LENGTH = 63
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


def validate_identifier(
    id: identifier_pb2.Identifier, expected: int, max_length: int = MAX_ENTITY_FIELD_LENGTH, field: str = "id"
) -> None:
    """project, domain, name, version set; resource type as expected; each within the column length.

    Flyte doesn't cap entity names (flytekit derives long ones, e.g. map tasks' ``<module>.map_<fn>_<hash>-arraynode``),
    so the limit is the column size, not ``admin.maxNameLength`` (which is for execution names).
    """
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
    for part in ("project", "domain", "name", "version"):
        check_length(getattr(id, part), part, max_length)


def validate_named_identifier(id: common_pb2.NamedEntityIdentifier, *, name_required: bool = True) -> None:
    require(id.project, "project")
    require(id.domain, "domain")
    if name_required:
        require(id.name, "name")


def validate_project_id(project_id: str, max_length: int = MAX_PROJECT_ID_LENGTH) -> None:
    require(project_id, "project_id")
    check_length(project_id, "project_id", max_length)
    if not _DNS_1123_LABEL.match(project_id):
        raise InvalidArgument(
            f"invalid project_id [{project_id}]: must be a lowercase DNS-1123 label "
            "(letters, digits and '-', starting and ending with a letter or digit)"
        )
