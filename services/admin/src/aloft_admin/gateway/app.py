"""admin's HTTP app: the grpc-gateway-style REST API, OpenAPI, CORS and the local store's signed blob URLs.

Routes come from the services' ``google.api.http`` annotations (gateway/descriptors.py); each calls the same
servicer object the gRPC server uses, in-process, with ``context=None``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import grpc
from aloft_auth.enforce import Guard
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from aloft_admin.api.version import control_plane_version
from aloft_admin.auth.routes import auth_routes, no_user_login
from aloft_admin.auth.setup import AdminAuth
from aloft_admin.deps import AdminDeps
from aloft_admin.gateway.blobs import blob_routes
from aloft_admin.gateway.descriptors import Binding, all_bindings
from aloft_admin.gateway.openapi import build_openapi
from aloft_admin.gateway.rest import CSRF_RESPONSE_HEADER, error_response, make_endpoint

OPENAPI_PATHS = ("/api/v1/openapi", "/api/v1/openapi.json")


def _servicer_map(servicers: Any) -> Mapping[str, object]:
    if isinstance(servicers, Mapping):
        return servicers
    return {key: getattr(servicers, key) for key in ("admin", "dataproxy", "signals", "auth", "identity")}


def rest_routes(
    bindings: list[Binding], servicers: Mapping[str, object], guard: Guard | None = None, session: Any = None
) -> list[Route]:
    return [
        Route(
            b.path,
            make_endpoint(b, servicers[b.servicer_key], guard, session),
            methods=[b.verb],
            name=f"{b.rpc_name} {b.verb} {b.path}",
        )
        for b in bindings
    ]


def openapi_routes(bindings: list[Binding]) -> list[Route]:
    document = build_openapi(bindings, control_plane_version().Version)

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    return [Route(path, openapi, methods=["GET"]) for path in OPENAPI_PATHS]


async def _http_error(_: Request, exc: Exception) -> Response:
    """Unknown routes and wrong verbs answer with grpc-gateway's error body."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: grpc.StatusCode.NOT_FOUND, 405: grpc.StatusCode.UNIMPLEMENTED}.get(status, grpc.StatusCode.INTERNAL)
    response = error_response(code, str(getattr(exc, "detail", "")) or "error")
    response.status_code = status
    return response


def _cors(deps: AdminDeps) -> list[Middleware]:
    """CORS for the origins ``server.security.allowedOrigins`` (or ``admin.allowedOrigins``) names. Credentials
    (the browser session's cookies) only for listed origins, never for ``*``; with user login on, a console on one
    of them may send X-CSRF-Token and read it back (admin hands it to the session's pages in that header)."""
    cors = deps.config.cors()
    if not cors.allowed:
        return []
    headers = list(cors.headers)
    login = deps.auth is not None and deps.auth.login is not None
    if login and CSRF_RESPONSE_HEADER.lower() not in {h.lower() for h in headers}:
        headers.append(CSRF_RESPONSE_HEADER)
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(cors.origins),
            allow_headers=headers,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"],
            allow_credentials="*" not in cors.origins,
            expose_headers=[CSRF_RESPONSE_HEADER] if login else [],
        )
    ]


def _auth_routes(auth: AdminAuth | None) -> list[Route]:
    if auth is None:
        return []
    if auth.login is None:
        return auth_routes(auth, no_user_login)
    return [*auth.login.routes(), *auth_routes(auth, auth.login.user_of)]


def console_routes(deps: AdminDeps) -> list[BaseRoute]:
    """The web console under ``admin.consoleBasePath`` (as Flyte's single binary serves it), calling this same
    origin's /api/v1. Only its static front end is served here: aloft-console is a client of the REST API."""
    base = deps.config.admin.consoleBasePath
    if not base.strip("/") or importlib.util.find_spec("aloft_console") is None:
        return []
    from aloft_console.assets import console_routes as routes

    return routes(base, admin_endpoint="")


def build_http_app(deps: AdminDeps, servicers: Any) -> Starlette:
    bindings = all_bindings()
    by_key = _servicer_map(servicers)
    auth = deps.auth
    routes: list[BaseRoute] = [
        *openapi_routes(bindings),
        *blob_routes(deps.blobs),
        *_auth_routes(auth),
        *rest_routes(
            bindings,
            by_key,
            auth.guard if auth is not None else None,
            auth.login.identity_of if auth is not None and auth.login is not None else None,
        ),
        *console_routes(deps),
    ]
    app = Starlette(
        routes=routes,
        middleware=_cors(deps),
        exception_handlers={404: _http_error, 405: _http_error},
    )
    app.state.servicers = by_key
    return app
