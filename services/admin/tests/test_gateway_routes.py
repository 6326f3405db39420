"""Every annotated REST route reaches its servicer method, over HTTP against the real admin service."""

from __future__ import annotations

from typing import Any

import httpx
from google.protobuf.descriptor import FieldDescriptor

from aloft_admin.gateway.binding import resolve_path
from aloft_admin.gateway.descriptors import Binding, all_bindings
from aloft_admin.gateway.rest import RPC_HEADER, is_unimplemented


def _placeholder(binding: Binding, field_path: str) -> str:
    """A valid-shaped value for a path parameter: enum names, numbers for ints, a name otherwise."""
    chain = resolve_path(binding.method.input_type, field_path)
    assert chain is not None, f"{binding.template}: {field_path} is not a request field"
    leaf = chain[-1]
    if leaf.enum_type is not None:
        values = leaf.enum_type.values
        return values[1].name if len(values) > 1 else values[0].name
    if leaf.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_INT64):
        return "1"
    return f"x{leaf.name.replace('_', '')}"


def _url(binding: Binding) -> str:
    path = binding.template
    for param in binding.params:
        path = path.replace("{" + param.field_path + "}", _placeholder(binding, param.field_path))
    return path


def _servicers(admin_server: Any) -> Any:
    app = admin_server.running.service.http_app
    return app.state.servicers


def test_every_rpc_of_the_five_services_with_an_annotation_has_a_route() -> None:
    bindings = all_bindings()
    routed = {b.rpc_name for b in bindings}
    # SignalService.GetOrCreateSignal is the one RPC flyteidl leaves without an HTTP annotation.
    assert "flyteidl.service.SignalService/GetOrCreateSignal" not in routed
    assert "flyteidl.service.AdminService/ListTasks" in routed
    assert len([b for b in bindings if b.rpc_name == "flyteidl.service.AdminService/ListTasks"]) == 2
    assert len(bindings) == 69
    assert len({(b.verb, b.template) for b in bindings}) == len(bindings)


async def test_every_annotated_route_reaches_its_servicer(admin_server: Any) -> None:
    """Minimal valid-shaped requests: the servicer answers (success or its own error), never the router."""
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        for binding in all_bindings():
            content = b"{}" if binding.body else None
            reply = await client.request(binding.verb, _url(binding), content=content)
            label = f"{binding.verb} {_url(binding)}"
            assert reply.headers.get(RPC_HEADER) == binding.rpc_name, (
                f"{label}: routed to {reply.headers.get(RPC_HEADER)}"
            )
            body = reply.json()
            assert isinstance(body, dict), label
            if reply.status_code == 200:
                continue
            assert set(body) == {"code", "message", "details"}, f"{label}: {body}"
            assert body["code"] != 0 and body["message"], label
            # Not routing failures (405), not missing RPCs (501), not servicer crashes (500) on plain bad input.
            assert reply.status_code in (400, 404, 409), f"{label}: {reply.status_code} {body}"
            assert not is_unimplemented(_servicers(admin_server)[binding.servicer_key], binding.method.name), label
