"""Field checks shared by the request validators. Every error is INVALID_ARGUMENT and names the field."""

from __future__ import annotations

from flyteidl.datacatalog import datacatalog_pb2 as dc
from google.protobuf.message import Message

from aloft_service.errors import InvalidArgument


def require_message(parent: Message, field: str, path: str) -> None:
    if not parent.HasField(field):
        raise InvalidArgument(f"missing {path}")


# Identity strings are stored in VARCHAR(255) columns (see repositories/models.py).
MAX_LENGTH = 255


def check_length(value: str, path: str) -> None:
    if len(value) > MAX_LENGTH:
        raise InvalidArgument(f"{path} is longer than {MAX_LENGTH} characters")


def require_string(value: str, path: str) -> None:
    if not value.strip():
        raise InvalidArgument(f"missing {path}")
    check_length(value, path)


def validate_dataset_id(dataset_id: dc.DatasetID, path: str) -> None:
    for field in ("project", "domain", "name", "version"):
        require_string(getattr(dataset_id, field), f"{path}.{field}")
    check_length(dataset_id.org, f"{path}.org")


def require_dataset_id(parent: Message, field: str, path: str) -> None:
    require_message(parent, field, path)
    validate_dataset_id(getattr(parent, field), path)


def require_unique(values: list[str], path: str) -> None:
    seen: set[str] = set()
    for value in values:
        require_string(value, path)
        if value in seen:
            raise InvalidArgument(f"{path} has duplicate entry {value!r}")
        seen.add(value)
