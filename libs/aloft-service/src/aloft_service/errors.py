"""One error hierarchy for every service: each error carries its gRPC status and optional typed details."""

from __future__ import annotations

import grpc
from google.protobuf.message import Message

_HTTP_BY_CODE = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status grpc-gateway uses for a gRPC code."""
    return _HTTP_BY_CODE.get(code, 500)


class AloftError(Exception):
    """Base error; subclasses fix the status code. ``details`` are packed into the gRPC status details."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, details: Message | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidArgument(AloftError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(AloftError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(AloftError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(AloftError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(AloftError):
    """A concurrent writer won (optimistic concurrency); the caller may retry from fresh state."""

    code = grpc.StatusCode.ABORTED


class Unavailable(AloftError):
    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(AloftError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class PermissionDenied(AloftError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(AloftError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Internal(AloftError):
    code = grpc.StatusCode.INTERNAL
