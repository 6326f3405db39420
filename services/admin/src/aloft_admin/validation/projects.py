"""Project request validation, after flyteadmin's validation/project_validator.go."""

from __future__ import annotations

import re

from flyteidl.admin import project_pb2

from aloft_admin.validation.identifiers import check_length, missing, validate_project_id
from aloft_service.errors import InvalidArgument

MAX_PROJECT_NAME_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 300
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def validate_project(project: project_pb2.Project) -> None:
    if not project.ByteSize():
        raise missing("project")
    validate_project_id(project.id)
    check_length(project.name, "project_name", MAX_PROJECT_NAME_LENGTH)
    check_length(project.description, "project_description", MAX_DESCRIPTION_LENGTH)
    if len(project.domains) > 0:
        raise InvalidArgument(
            "Domains are currently only set system wide. Please retry without domains included in your request."
        )
    for key, value in project.labels.values.items():
        if not _LABEL_KEY.match(key) or len(key) > 63:
            raise InvalidArgument(f"invalid label key [{key}]: must be a Kubernetes label key")
        if not _LABEL_VALUE.match(value) or len(value) > 63:
            raise InvalidArgument(f"invalid label value [{value}] for key [{key}]: must be a Kubernetes label value")


def validate_register(request: project_pb2.ProjectRegisterRequest) -> None:
    if not request.HasField("project"):
        raise missing("project")
    validate_project(request.project)
    if not request.project.name:
        raise missing("project_name")
