"""HTTP routes of admin's authorization server: discovery, JWKS, token and authorize endpoints (Flyte's paths)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlencode

from aloft_auth.oauth_requests import FormRequest
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from aloft_admin.auth.authserver import Reply, SelfAuthorizationServer, User
from aloft_admin.auth.setup import AdminAuth

WELL_KNOWN = "/.well-known/oauth-authorization-server"
TOKEN_PATH = "/oauth2/token"
AUTHORIZE_PATH = "/oauth2/authorize"
JWKS_PATH = "/oauth2/jwks"
MAX_FORM_BYTES = 64 * 1024

# Who is logged in on this browser (the OIDC login's session), None when nobody is.
UserOf = Callable[[Request], User | None]


def no_user_login(request: Request) -> User | None:
    """The session lookup when no user login (OIDC) is configured: nobody is logged in."""
    return None


def peer_of(request: Request) -> str:
    return request.client.host if request.client else ""


def _reply(reply: Reply) -> Response:
    headers = dict(reply.headers)
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("Pragma", "no-cache")
    if isinstance(reply.body, (dict, list)):
        headers.pop("Content-Type", None)
        return Response(json.dumps(reply.body), reply.status, headers=headers, media_type="application/json")
    return Response(reply.body or b"", reply.status, headers=headers)


def _too_many(auth: AdminAuth, request: Request, endpoint: str) -> Response | None:
    peer = peer_of(request)
    if auth.limiter.allow(peer):
        return None
    auth.audit.rate_limited(endpoint, peer)
    return JSONResponse(
        {"error": "slow_down", "error_description": "too many requests"},
        status_code=429,
        headers={"Retry-After": str(auth.limiter.retry_after(peer))},
    )


async def _form(request: Request) -> dict[str, str] | None:
    """The ``application/x-www-form-urlencoded`` body token requests use (RFC 6749 §4); None when too large.
    A repeated parameter keeps its first value (Authlib refuses duplicates it can see in the query)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    form: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(key, value)
    return form


def _oauth_request(server: SelfAuthorizationServer, request: Request, path: str, form: dict[str, str]) -> FormRequest:
    # The public URL (issuer), not the socket's: TLS usually ends at an ingress in front of admin.
    query = f"?{request.url.query}" if request.url.query else ""
    return FormRequest(
        request.method,
        server.config.issuer() + path + query,
        request.headers,  # case-insensitive, as Authlib reads "Authorization"
        dict(request.query_params),
        form,
    )


def auth_routes(auth: AdminAuth, user_of: UserOf) -> list[Route]:
    # The discovery document itself is AuthMetadataService.GetOAuth2Metadata's REST route (/.well-known/...).
    if auth.server is None:
        return []
    server = auth.server
    keys = auth.keys
    assert keys is not None

    async def jwks(_: Request) -> Response:
        return JSONResponse(keys.public_jwks(), headers={"Cache-Control": "max-age=60"})

    async def token(request: Request) -> Response:
        limited = _too_many(auth, request, TOKEN_PATH)
        if limited is not None:
            return limited
        form = await _form(request)
        if form is None:
            return JSONResponse({"error": "invalid_request", "error_description": "request too large"}, 413)
        oauth_request = _oauth_request(server, request, TOKEN_PATH, form)
        reply = await server.token_response(oauth_request)
        if reply.status >= 400:
            error = reply.body.get("error", "") if isinstance(reply.body, dict) else ""
            client_id = form.get("client_id", "") or _basic_client_id(request)
            auth.audit.token_refused(client_id, form.get("grant_type", ""), error, peer_of(request))
        return _reply(reply)

    async def authorize(request: Request) -> Response:
        limited = _too_many(auth, request, AUTHORIZE_PATH)
        if limited is not None:
            return limited
        user = user_of(request)
        if user is None and not auth.config.userAuth.openId.baseUrl:
            return JSONResponse(
                {"error": "login_required", "error_description": "no user login is configured (auth.userAuth.openId)"},
                status_code=400,
            )
        if user is None:
            back = str(request.url)
            return RedirectResponse(f"/login?{urlencode({'redirect_url': back})}", status_code=303)
        form = (await _form(request) or {}) if request.method == "POST" else {}
        oauth_request = _oauth_request(server, request, AUTHORIZE_PATH, form)
        return _reply(await server.authorization_response(oauth_request, user))

    return [
        Route(JWKS_PATH, jwks, methods=["GET"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(AUTHORIZE_PATH, authorize, methods=["GET", "POST"]),
    ]


def _basic_client_id(request: Request) -> str:
    """The client id of a Basic Authorization header (for the audit line; the secret is not read)."""
    value = request.headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return ""
    try:
        decoded = base64.b64decode(value[6:]).decode()
    except (binascii.Error, ValueError):
        return ""
    return unquote(decoded.partition(":")[0])
