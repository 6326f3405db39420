"""How an array node reports its sub-tasks' failures, in the shapes Flyte v1.16.8 uses.

The pinned flyteidl's ExternalResourceInfo (one per sub-task attempt) has no error field. Flyte's array node
(nodes/array/handler.go) fails with one ExecutionError whose message is its error collector's summary: each distinct
message once, after the index ranges that hit it (``[0-1][3]: duplicate message\\n[2]: unique message\\n``, cut at
100 KiB). Each failed attempt's own ExecutionError goes into its ExternalResourceInfo's ``custom_info`` (the
sub-task's free-form details, which admin merges per (index, retry_attempt) as flyteadmin does) under ``error``.
"""

from __future__ import annotations

from collections.abc import Iterable

from flyteidl.core import execution_pb2
from flyteidl.event import event_pb2

from aloft_propeller.events import builders
from aloft_propeller.execution_error import ExecutionError

MAX_ERROR_MESSAGE_LENGTH = 102400  # flytepropeller events.MaxErrorMessageLength
_MORE = "... and many more."


def index_ranges(indexes: Iterable[int]) -> str:
    """``[0-1][3]``: sorted indexes, consecutive ones merged into a range."""
    ranges: list[list[int]] = []
    for index in sorted(set(indexes)):
        if ranges and index == ranges[-1][1] + 1:
            ranges[-1][1] = index
        else:
            ranges.append([index, index])
    return "".join(f"[{start}]" if start == end else f"[{start}-{end}]" for start, end in ranges)


def summary(failures: Iterable[tuple[int, str]], limit: int = MAX_ERROR_MESSAGE_LENGTH) -> str:
    """flyteplugins' ErrorMessageCollector.Summary over (index, message) pairs."""
    by_message: dict[str, list[int]] = {}
    for index, message in failures:
        by_message.setdefault(message, []).append(index)
    limit -= len(_MORE)
    if limit < 0:
        return ""
    text = ""
    for message in sorted(by_message):
        text += f"{index_ranges(by_message[message])}: {message}\n"
        if len(text) >= limit:
            text += _MORE
            break
    return text


def attach_error(resource: event_pb2.ExternalResourceInfo, error: ExecutionError) -> None:
    """The attempt's ExecutionError (code, message, kind) in ``custom_info.error``."""
    kind = execution_pb2.ExecutionError.ErrorKind.Name(builders.execution_error(error).kind)
    resource.custom_info.update({"error": {"code": error.code, "message": error.message, "kind": kind}})
