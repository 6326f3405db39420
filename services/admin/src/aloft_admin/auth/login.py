"""Browser users through OpenID Connect (Flyte's ``userAuth.openId``): /login, /callback, /logout.

/login sends the browser to the provider (authorization code + PKCE, ``state`` and ``nonce`` kept in a short-lived
signed cookie); /callback exchanges the code (Authlib's httpx client), verifies the ID token (PyJWT: signature from
the provider's JWKS, issuer, audience = our client id, nonce) and sets the session cookie: signed, HttpOnly,
SameSite, Secure on https. REST calls may then authenticate with the session; state-changing ones must echo the
session's CSRF token in ``X-CSRF-Token`` (double submit: the ``aloft_csrf`` cookie is readable by the console).
The session also identifies the user at /oauth2/authorize, so flytectl's PKCE login works through the browser.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from aloft_auth.audit import AuditLog
from aloft_auth.config import AuthConfig
from aloft_auth.ratelimit import RateLimiter
from aloft_auth.tokens import Identity, InvalidToken, KeyCache
from authlib.integrations.base_client.errors import OAuthError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from aloft_admin.auth.authserver import User
from aloft_service.errors import PermissionDenied

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

SESSION_COOKIE = "aloft_session"
LOGIN_COOKIE = "aloft_login"
CSRF_COOKIE = "aloft_csrf"
CSRF_HEADER = "x-csrf-token"
LOGIN_SECONDS = 600
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _cookie_key(config: AuthConfig, data_dir: Path) -> bytes:
    configured = config.userAuth.cookieHashKeyFile
    path = Path(configured) if configured else data_dir / "auth" / "cookie_hash_key"
    if not path.exists():
        if configured:
            raise ValueError(f"auth.userAuth.cookieHashKeyFile {configured!r} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


class UserLogin:
    def __init__(self, config: AuthConfig, data_dir: Path, audit: AuditLog, cors_origins: Sequence[str] = ()) -> None:
        self.config = config
        # Origins whose pages may make state-changing calls with the session (besides admin's own).
        self.trusted_origins = {_origin(u) for u in [*config.authorizedUris, *cors_origins] if _origin(u)}
        self.openid = config.userAuth.openId
        self.audit = audit
        key = _cookie_key(config, data_dir)
        self.sessions = URLSafeTimedSerializer(key, salt="aloft-session")
        self.logins = URLSafeTimedSerializer(key, salt="aloft-login")
        self.limiter = RateLimiter(config.tokenRateLimit)
        self._discovery: dict[str, Any] | None = None
        self.keys = KeyCache(self._jwks)
        self.secure = config.issuer().startswith("https://")

    @property
    def callback_url(self) -> str:
        return self.config.issuer() + "/callback"

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            url = self.openid.baseUrl.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=10.0) as http:
                self._discovery = dict((await http.get(url)).raise_for_status().json())
        return self._discovery

    async def _jwks(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10.0) as http:
            return dict((await http.get((await self.discovery())["jwks_uri"])).raise_for_status().json())

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.openid.clientId,
            client_secret=self.openid.client_secret(),
            scope=" ".join(self.openid.scopes),
            redirect_uri=self.callback_url,
            code_challenge_method="S256",
            timeout=10.0,
        )

    # --- the session ------------------------------------------------------------------------------------------

    def session(self, request: Request) -> dict[str, Any] | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            data = self.sessions.loads(cookie, max_age=int(self.config.userAuth.sessionLifespan.total_seconds()))
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def user_of(self, request: Request) -> User | None:
        data = self.session(request)
        if data is None:
            return None
        return User(
            str(data["sub"]), tuple(data.get("groups", [])), str(data.get("name", "")), str(data.get("email", ""))
        )

    def identity_of(self, request: Request) -> Identity | None:
        """The REST caller of a browser session (None without one). A state-changing call riding on the session
        from another origin, or without the session's CSRF token, is refused (PERMISSION_DENIED → 403)."""
        data = self.session(request)
        if data is None:
            return None
        claims: dict[str, Any] = {k: data[k] for k in ("sub", "name", "email", "groups") if k in data}
        identity = Identity(subject=str(data["sub"]), groups=tuple(data.get("groups", [])), claims=claims)
        # The reply hands the token to the session's page in X-CSRF-Token: a console on another (allowed) origin
        # cannot read admin's aloft_csrf cookie, and other origins cannot read the reply (CORS).
        request.state.csrf = str(data.get("csrf", ""))
        if request.method not in SAFE_METHODS:
            refused = self._cross_site(request, str(data.get("csrf", "")))
            if refused:
                self.audit.denied(identity, f"{request.method} {request.url.path}", refused)
                raise PermissionDenied(f"permission denied: {refused}")
        return identity

    def _cross_site(self, request: Request, csrf: str) -> str:
        """Why a state-changing session call looks forged ("" when it does not): an ``Origin`` other than admin's
        own, its authorizedUris' or the CORS allowedOrigins, or no matching ``X-CSRF-Token``."""
        origin = request.headers.get("origin", "").rstrip("/")
        own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        if origin and origin != own and origin not in self.trusted_origins:
            return f"cross-origin request from {origin}"
        if not secrets.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf):
            return "missing or wrong X-CSRF-Token"
        return ""

    def _set_cookie(self, response: Response, name: str, value: str, max_age: int, http_only: bool = True) -> None:
        setting = self.config.userAuth.cookieSetting
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=http_only,
            secure=self.secure or setting.sameSitePolicy == "None",
            samesite=setting.sameSitePolicy.lower(),  # type: ignore[arg-type]
            domain=setting.domain or None,
            path="/",
        )

    def _safe_redirect(self, target: str | None) -> str:
        """Only our own paths or URLs under authorizedUris: never an open redirect."""
        if target and target.startswith("/") and not target.startswith("//"):
            return target
        if target and any(target.startswith(uri.rstrip("/") + "/") for uri in self.config.authorizedUris):
            return target
        return self.config.userAuth.redirectUrl

    # --- the routes -------------------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        peer = request.client.host if request.client else ""
        if not self.limiter.allow(peer):
            self.audit.rate_limited("/login", peer)
            return JSONResponse({"error": "slow_down"}, status_code=429)
        metadata = await self.discovery()
        nonce = secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        async with self._oauth() as client:
            url, state = client.create_authorization_url(
                metadata["authorization_endpoint"], nonce=nonce, code_verifier=verifier
            )
        pending = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "next": self._safe_redirect(request.query_params.get("redirect_url")),
        }
        response = RedirectResponse(url, status_code=303)
        self._set_cookie(response, LOGIN_COOKIE, self.logins.dumps(pending), LOGIN_SECONDS)
        return response

    async def callback(self, request: Request) -> Response:
        peer = request.client.host if request.client else ""
        try:
            pending = self.logins.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_SECONDS)
        except BadSignature:
            pending = None
        state = request.query_params.get("state", "")
        if not isinstance(pending, dict) or not secrets.compare_digest(state, str(pending.get("state", ""))):
            self.audit.unauthenticated("/callback", "login state missing or mismatched", peer)
            return JSONResponse({"error": "invalid_request", "error_description": "login state mismatch"}, 400)
        if "code" not in request.query_params:
            self.audit.unauthenticated("/callback", f"provider error {request.query_params.get('error', '')}", peer)
            return JSONResponse({"error": request.query_params.get("error", "access_denied")}, 401)
        metadata = await self.discovery()
        try:
            async with self._oauth() as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    code=request.query_params["code"],
                    code_verifier=pending["verifier"],
                )
            claims = await self._verify_id_token(str(token.get("id_token", "")), str(pending["nonce"]))
        except (InvalidToken, OAuthError, httpx.HTTPError, ValueError, KeyError) as exc:
            self.audit.unauthenticated("/callback", f"login failed ({type(exc).__name__})", peer)
            return JSONResponse({"error": "access_denied", "error_description": "login failed"}, 401)
        session = {
            "sub": claims["sub"],
            "name": claims.get("name", ""),
            "email": claims.get("email", ""),
            "groups": claims.get("groups", []),
            "csrf": secrets.token_urlsafe(24),
        }
        self.audit.log.info("user.login subject=%s", session["sub"])
        response = RedirectResponse(str(pending["next"]), status_code=303)
        lifespan = int(self.config.userAuth.sessionLifespan.total_seconds())
        self._set_cookie(response, SESSION_COOKIE, self.sessions.dumps(session), lifespan)
        self._set_cookie(response, CSRF_COOKIE, str(session["csrf"]), lifespan, http_only=False)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def _verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            kid = str(jwt.get_unverified_header(id_token).get("kid", ""))
            key = await self.keys.key(kid)
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256", "ES256"],
                audience=self.openid.clientId,
                issuer=(await self.discovery())["issuer"],
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid ID token ({type(exc).__name__})") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise InvalidToken("ID token nonce mismatch")
        return dict(claims)

    async def logout(self, request: Request) -> Response:
        data = self.session(request)
        if data is not None:
            self.audit.log.info("user.logout subject=%s", data.get("sub", ""))
        response = RedirectResponse(self._safe_redirect(request.query_params.get("redirect_url")), status_code=303)
        for name in (SESSION_COOKIE, CSRF_COOKIE, LOGIN_COOKIE):
            response.delete_cookie(name, path="/", domain=self.config.userAuth.cookieSetting.domain or None)
        return response

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login, methods=["GET"]),
            Route("/callback", self.callback, methods=["GET"]),
            Route("/logout", self.logout, methods=["GET", "POST"]),
        ]
