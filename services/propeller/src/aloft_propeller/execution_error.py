"""Why an attempt, a node or a workflow failed: one type from a plugin's answer to the persisted state and the event.

Its fields are flyteidl ``core.ExecutionError``'s (code, message, kind) plus ``recoverable``, which a plugin takes from
the task's ErrorDocument (ContainerError.kind) to tell a retryable from a permanent failure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ErrorKind(enum.StrEnum):
    """Whose fault: USER errors use the task's retries, SYSTEM errors the system-failure budget."""

    USER = "USER"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class ExecutionError:
    code: str
    message: str
    kind: ErrorKind = ErrorKind.USER
    recoverable: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The persisted form (workflow state JSON); ``recoverable`` only when set, as older states lack it."""
        plain: dict[str, Any] = {"code": self.code, "message": self.message, "kind": self.kind.value}
        if self.recoverable:
            plain["recoverable"] = True
        return plain

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionError:
        return cls(
            code=data["code"],
            message=data["message"],
            kind=ErrorKind(data.get("kind", ErrorKind.USER)),
            recoverable=bool(data.get("recoverable", False)),
        )
