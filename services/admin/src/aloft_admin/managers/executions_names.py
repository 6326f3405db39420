"""Execution names: the caller's, validated, or generated as flyteadmin does (a letter + 19 random characters)."""

from __future__ import annotations

import re
import secrets
import string

from aloft_service.errors import InvalidArgument

_ALPHABET = string.ascii_lowercase + string.digits
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
GENERATED_LENGTH = 20


def generate_name() -> str:
    return "a" + "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_LENGTH - 1))


def execution_name(requested: str, max_length: int) -> str:
    if not requested:
        return generate_name()
    if len(requested) > max_length:
        raise InvalidArgument(f"name [{requested}] is too long: {len(requested)} > {max_length} characters")
    if not _NAME.match(requested):
        raise InvalidArgument(
            f"name [{requested}] is invalid: use lowercase letters, digits and '-', starting with a letter"
        )
    return requested
