"""One Starlette endpoint per REST binding: HTTP → request message → servicer method in-process → JSON.

JSON matches flyteadmin's gateway marshaler (protojson with ``UseProtoNames`` and ``EmitUnpopulated``): proto
field names, defaults emitted, int64 as strings, enums by name. As flyteadmin, ``application/octet-stream`` is
binary protobuf instead (request body by ``Content-Type``, reply by ``Accept``; flyteconsole talks this way).
Errors use grpc-gateway's body ``{"code": <grpc code>, "message": ..., "details": [...]}`` (a google.rpc.Status
when the reply is protobuf) with its HTTP status mapping. Every answer that came
from a servicer carries ``X-Aloft-Rpc: <service>/<method>`` so callers (and tests) can see which RPC served it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from aloft_auth.enforce import Guard, current_identity
from aloft_auth.tokens import Identity
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import status_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aloft_admin.gateway.binding import build_request
from aloft_admin.gateway.descriptors import Binding
from aloft_admin.gateway.implicit import fill_implicit_fields
from aloft_service.errors import AloftError, InvalidArgument, http_status

log = logging.getLogger(__name__)

RPC_HEADER = "X-Aloft-Rpc"
CSRF_RESPONSE_HEADER = "X-CSRF-Token"  # a browser session's CSRF token, for its console (see auth.login)
PROTO_MEDIA_TYPE = "application/octet-stream"
MAX_BODY_BYTES = 64 * 1024 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]


def message_to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _detail_json(detail: Message) -> dict[str, Any]:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return json_format.MessageToDict(packed, preserving_proto_field_name=True)


def error_response(
    code: grpc.StatusCode,
    message: str,
    details: list[Message] | None = None,
    headers: dict[str, str] | None = None,
    binary: bool = False,
) -> Response:
    status = http_status(code)
    if binary:
        packed = []
        for detail in details or []:
            item = any_pb2.Any()
            item.Pack(detail)
            packed.append(item)
        proto = status_pb2.Status(code=code.value[0], message=message, details=packed)
        return Response(proto.SerializeToString(), status_code=status, media_type=PROTO_MEDIA_TYPE, headers=headers)
    body = {"code": code.value[0], "message": message, "details": [_detail_json(d) for d in details or []]}
    return JSONResponse(body, status_code=status, headers=headers)


def _is_proto(header: str) -> bool:
    return any(part.split(";")[0].strip() == PROTO_MEDIA_TYPE for part in header.split(","))


def is_unimplemented(servicer: object, method_name: str) -> bool:
    """True when the servicer only has the generated base class's UNIMPLEMENTED stub for this RPC."""
    method = getattr(type(servicer), method_name, None)
    return method is None or str(getattr(method, "__module__", "")).endswith("_pb2_grpc")


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidArgument(f"request body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def make_endpoint(
    binding: Binding,
    servicer: object,
    guard: Guard | None = None,
    session_identity: Callable[[Request], Identity | None] | None = None,
) -> Endpoint:
    """With a guard (auth on), the call is authenticated and authorized as the same RPC over gRPC would be: by a
    bearer token, else by a browser session (``session_identity``, which also checks CSRF)."""
    request_type = GetMessageClass(binding.method.input_type)
    rpc = binding.rpc_name
    method_name = binding.method.name

    async def endpoint(request: Request) -> Response:
        headers = {RPC_HEADER: rpc}
        binary_in = _is_proto(request.headers.get("content-type", ""))
        binary_out = _is_proto(request.headers.get("accept", ""))
        if is_unimplemented(servicer, method_name):
            return error_response(
                grpc.StatusCode.UNIMPLEMENTED, f"{rpc} is not implemented", headers=headers, binary=binary_out
            )
        full_method = f"/{rpc}"
        try:
            # Authentication comes first: a caller without a valid token learns nothing about the request.
            identity = None
            if guard is not None and guard.requires_token(full_method):
                peer = request.client.host if request.client else ""
                if session_identity is not None and not guard.has_token(request.headers):
                    identity = session_identity(request)
                if identity is None:
                    identity = await guard.authenticate(request.headers, full_method, peer)
            raw = await _read_body(request) if binding.body else b""
            path_values = {p.field_path: request.path_params[p.name] for p in binding.params}
            query = request.query_params.multi_items()
            message = build_request(request_type, binding.body, raw, path_values, query, binary=binary_in)
            fill_implicit_fields(method_name, message)
            if guard is not None and identity is not None:
                guard.authorize(identity, full_method, message)
            caller = current_identity.set(identity)
            try:
                reply = await getattr(servicer, method_name)(message, None)
            finally:
                current_identity.reset(caller)
        except AloftError as exc:
            details = [exc.details] if exc.details is not None else []
            if exc.code == grpc.StatusCode.UNAUTHENTICATED:
                headers = {**headers, "WWW-Authenticate": 'Bearer realm="aloft"'}
            return error_response(exc.code, exc.message, details, headers=headers, binary=binary_out)
        except Exception:
            log.exception("REST call %s failed", rpc)
            return error_response(grpc.StatusCode.INTERNAL, f"{rpc} failed", headers=headers, binary=binary_out)
        csrf = str(getattr(request.state, "csrf", ""))  # set when a browser session authenticated the call
        if csrf:
            headers[CSRF_RESPONSE_HEADER] = csrf
        if binary_out:
            return Response(reply.SerializeToString(), media_type=PROTO_MEDIA_TYPE, headers=headers)
        return JSONResponse(message_to_json(reply), headers=headers)

    endpoint.__name__ = method_name
    return endpoint
