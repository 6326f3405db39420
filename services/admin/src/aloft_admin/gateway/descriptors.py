"""REST bindings read from the services' ``google.api.http`` annotations (never written out by hand).

Each binding is one (verb, path template, body) triple of an RPC: its main rule and any
``additional_bindings``. Path templates such as ``/api/v1/tasks/{id.project}/{id.domain}`` become Starlette
paths with positional parameter names (``{p0}``) plus the dotted request-field path each one fills.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from flyteidl.service import admin_pb2, auth_pb2, dataproxy_pb2, identity_pb2, signal_pb2
from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

# (module, service name, key into the servicers passed to build_http_app)
GATEWAY_SERVICES: list[tuple[ModuleType, str, str]] = [
    (admin_pb2, "AdminService", "admin"),
    (dataproxy_pb2, "DataProxyService", "dataproxy"),
    (signal_pb2, "SignalService", "signals"),
    (auth_pb2, "AuthMetadataService", "auth"),
    (identity_pb2, "IdentityService", "identity"),
]

_VERBS = ("get", "put", "post", "delete", "patch")
TEMPLATE_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class PathParam:
    name: str  # the Starlette parameter name (p0, p1 ...)
    field_path: str  # the dotted request field it fills (id.project)
    wildcard: bool  # a ``{x=**}`` template that spans several segments


@dataclass(frozen=True)
class Binding:
    service: ServiceDescriptor
    method: MethodDescriptor
    servicer_key: str
    verb: str  # upper-case HTTP method
    template: str  # the annotated path template, as written in the proto
    path: str  # the Starlette path
    params: tuple[PathParam, ...]
    body: str  # "" (no body), "*" (whole request) or a top-level field name

    @property
    def rpc_name(self) -> str:
        return f"{self.service.full_name}/{self.method.name}"

    def specificity(self) -> tuple[int, ...]:
        """Sort key: literal segments before variables at each position, so literals win overlaps."""
        segments = self.template.strip("/").split("/")
        return tuple(1 if "{" in segment else 0 for segment in segments)


def compile_template(template: str) -> tuple[str, tuple[PathParam, ...]]:
    """``/a/{id.project}/{name=**}`` → (``/a/{p0}/{p1:path}``, params)."""
    params: list[PathParam] = []

    def replace(match: re.Match[str]) -> str:
        field_path, pattern = match.group(1), match.group(2)
        wildcard = pattern is not None and "**" in pattern
        name = f"p{len(params)}"
        params.append(PathParam(name=name, field_path=field_path, wildcard=wildcard))
        return "{" + name + (":path" if wildcard else "") + "}"

    return TEMPLATE_VARIABLE.sub(replace, template), tuple(params)


def _rules(rule: http_pb2.HttpRule) -> list[http_pb2.HttpRule]:
    return [rule, *rule.additional_bindings]


def _binding(service: ServiceDescriptor, method: MethodDescriptor, key: str, rule: http_pb2.HttpRule) -> Binding | None:
    pattern = rule.WhichOneof("pattern")
    if pattern not in _VERBS:
        return None  # custom verbs are not used by flyteidl
    template = getattr(rule, pattern)
    path, params = compile_template(template)
    return Binding(service, method, key, pattern.upper(), template, path, params, rule.body)


def service_bindings(module: ModuleType, service_name: str, key: str) -> list[Binding]:
    service = module.DESCRIPTOR.services_by_name[service_name]
    out: list[Binding] = []
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        for rule in _rules(options.Extensions[annotations_pb2.http]):
            binding = _binding(service, method, key, rule)
            if binding is not None:
                out.append(binding)
    return out


def all_bindings() -> list[Binding]:
    """Every annotated route of every gateway service, most specific first."""
    bindings = [b for module, name, key in GATEWAY_SERVICES for b in service_bindings(module, name, key)]
    return sorted(bindings, key=lambda b: b.specificity())
