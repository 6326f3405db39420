"""Logins for people: flytectl's ``authType: Pkce`` (OAuth2 authorization code with PKCE (S256) through Authlib's
client, a one-shot callback server on the redirect URI admin names (GetPublicClientConfig)) and ``authType:
DeviceFlow`` (RFC 8628: aloftctl prints the verification address and user code, the person approves it in any
browser, aloftctl polls the token endpoint at the server's interval, slowing down when told). Both share a token
cache so the next command reuses the tokens and renews them with the refresh token before they expire.

The cache is a JSON file (mode 0600) keyed by admin's address; tokens never appear in output or errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE

TIMEOUT = 30.0  # seconds for each token request
DONE_PAGE = b"<!doctype html><title>aloftctl</title><p>Logged in. You may close this window and return to aloftctl.</p>"


class LoginError(Exception):
    """The login did not complete; the message says why (never with a token in it)."""


@dataclass(frozen=True)
class PublicClient:
    """Where and as whom to log in: admin's AuthMetadataService answers, merged with the config's scopes."""

    authorization_endpoint: str
    token_endpoint: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    audience: str = ""


class TokenCache:
    """Tokens per admin address in one JSON file, readable by its owner only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        token = self._load().get(key)
        return token if isinstance(token, dict) and token.get("access_token") else None

    def put(self, key: str, token: dict[str, Any]) -> None:
        data = self._load()
        data[key] = {k: token[k] for k in ("access_token", "refresh_token", "expires_at", "token_type") if k in token}
        self._write(data)

    def drop(self, key: str) -> None:
        data = self._load()
        if data.pop(key, None) is not None:
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        # Created 0600 before anything is written, and replaced whole: never a readable or half-written cache.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(temporary, self.path)


@dataclass
class _Callback:
    """What the browser brought back to the redirect URI: its query string, once."""

    path: str
    query: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)


def _handler(callback: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path.rstrip("/") != callback.path.rstrip("/") or callback.arrived.is_set():
                self.send_error(404)
                return
            callback.query = url.query
            callback.arrived.set()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(DONE_PAGE)))
            self.end_headers()
            self.wfile.write(DONE_PAGE)

        def log_message(self, *args: Any) -> None:
            return None  # the query holds the authorization code

    return Handler


@contextlib.contextmanager
def _callback_server(redirect_uri: str) -> Iterator[_Callback]:
    url = urlsplit(redirect_uri)
    if url.scheme != "http" or not url.hostname or not url.port:
        raise LoginError(f"the redirect URI {redirect_uri!r} is not a local http://host:port/path address")
    callback = _Callback(url.path or "/")
    try:
        server = HTTPServer((url.hostname, url.port), _handler(callback))
    except OSError as exc:
        raise LoginError(f"cannot listen on the redirect URI {redirect_uri} ({exc.strerror or exc})") from exc
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield callback
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class CachedLogin:
    """Access tokens for one admin: cached, renewed with the refresh token ``refresh_before`` seconds ahead of
    expiry, and a person's login (``_log_in``: the browser, or the device flow) when there is no usable token."""

    def __init__(
        self,
        client: PublicClient,
        cache: TokenCache,
        cache_key: str,
        login_timeout: float,
        refresh_before: float,
        verify: bool | str = True,
        open_browser: Callable[[str], bool] = webbrowser.open_new_tab,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.cache = cache
        self.cache_key = cache_key
        self.login_timeout = login_timeout
        self.refresh_before = refresh_before
        self.verify = verify
        self.open_browser = open_browser
        self.clock = clock

    def _oauth(self) -> OAuth2Session:
        session = OAuth2Session(
            client_id=self.client.client_id,
            scope=" ".join(self.client.scopes),
            redirect_uri=self.client.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",  # a public client: PKCE instead of a secret
        )
        session.verify = self.verify
        return session

    def cached_token(self) -> str | None:
        """The cached token, renewed first when it is about to expire; None when there is none (no browser)."""
        token = self.cache.get(self.cache_key)
        if token is None:
            return None
        if not self._expiring(token):
            return str(token["access_token"])
        return self._refresh(str(token["refresh_token"])) if token.get("refresh_token") else None

    def renewed_token(self) -> str:
        """A new token after admin refused the cached one (or there was none): the refresh token, else the
        person logs in."""
        token = self.cache.get(self.cache_key)
        if token is not None and token.get("refresh_token"):
            refreshed = self._refresh(str(token["refresh_token"]))
            if refreshed is not None:
                return refreshed
        return self._store(self._log_in())

    def _log_in(self) -> dict[str, Any]:
        raise NotImplementedError

    def _expiring(self, token: dict[str, Any]) -> bool:
        expires_at = token.get("expires_at")
        return expires_at is not None and self.clock() >= float(expires_at) - self.refresh_before

    def _store(self, token: dict[str, Any]) -> str:
        kept = dict(token)
        if kept.get("expires_in") is not None:  # on this login's clock (Authlib's own uses the wall clock)
            kept["expires_at"] = self.clock() + float(kept["expires_in"])
        self.cache.put(self.cache_key, kept)
        return str(token["access_token"])

    def _refresh(self, refresh_token: str) -> str | None:
        """The refreshed token, or None when the refresh token is no longer accepted (then log in again)."""
        with self._oauth() as oauth:
            try:
                token = oauth.refresh_token(self.client.token_endpoint, refresh_token=refresh_token, timeout=TIMEOUT)
            except (AuthlibBaseError, requests.RequestException, ValueError):
                self.cache.drop(self.cache_key)
                return None
        return self._store(dict(token))


class PkceLogin(CachedLogin):
    """The browser login: authorization code with PKCE, back to a localhost redirect URI."""

    def _log_in(self) -> dict[str, Any]:
        verifier = generate_token(48)
        extra = {"audience": self.client.audience} if self.client.audience else {}
        with _callback_server(self.client.redirect_uri) as callback, self._oauth() as oauth:
            url, state = oauth.create_authorization_url(
                self.client.authorization_endpoint, code_verifier=verifier, **extra
            )
            if not self.open_browser(url):
                print(f"Open this address in a browser to log in:\n{url}", file=sys.stderr)
            if not callback.arrived.wait(self.login_timeout):
                raise LoginError(
                    f"no login within {self.login_timeout:g}s (admin.pkceConfig.timeout): the browser never came "
                    f"back to {self.client.redirect_uri}"
                )
            returned = parse_qs(callback.query)
            if "error" in returned:
                detail = returned.get("error_description", returned["error"])[0]
                raise LoginError(f"the login was refused: {returned['error'][0]} ({detail})")
            try:
                token = oauth.fetch_token(
                    self.client.token_endpoint,
                    authorization_response=f"{self.client.redirect_uri}?{callback.query}",
                    code_verifier=verifier,
                    state=state,
                    timeout=TIMEOUT,
                )
            except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
                reason = getattr(exc, "error", "") or type(exc).__name__
                raise LoginError(
                    f"the token endpoint {self.client.token_endpoint} refused the login: {reason}"
                ) from exc
        return dict(token)


@dataclass(frozen=True)
class DeviceAuthorization:
    """The authorization server's answer to a device authorization request (RFC 8628 3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: float
    interval: float

    @staticmethod
    def from_reply(body: Any, default_interval: float) -> DeviceAuthorization:
        if not isinstance(body, dict) or not all(body.get(k) for k in ("device_code", "user_code", "verification_uri")):
            raise LoginError("the device authorization endpoint's reply has no device code, user code or address")
        return DeviceAuthorization(
            str(body["device_code"]),
            str(body["user_code"]),
            str(body["verification_uri"]),
            str(body.get("verification_uri_complete") or ""),
            float(body.get("expires_in") or 600),
            float(body.get("interval") or default_interval),
        )


SLOW_DOWN_SECONDS = 5.0  # RFC 8628 3.5: each slow_down adds 5 s to the polling interval


class DeviceLogin(CachedLogin):
    """The device flow: the person approves a user code in a browser anywhere; aloftctl polls the token endpoint."""

    def __init__(
        self,
        client: PublicClient,
        device_authorization_endpoint: str,
        cache: TokenCache,
        cache_key: str,
        login_timeout: float,
        refresh_before: float,
        poll_interval: float,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, cache, cache_key, login_timeout, refresh_before, verify, clock=clock)
        self.device_authorization_endpoint = device_authorization_endpoint
        self.poll_interval = poll_interval
        self.sleep = sleep

    def _log_in(self) -> dict[str, Any]:
        with self._oauth() as oauth:
            device = self._authorize_device(oauth)
            print(
                f"To log in, open {device.verification_uri} in a browser and enter the code {device.user_code}"
                + (f"\n(or open {device.verification_uri_complete})" if device.verification_uri_complete else ""),
                file=sys.stderr,
                flush=True,
            )
            return self._poll(oauth, device)

    def _authorize_device(self, oauth: OAuth2Session) -> DeviceAuthorization:
        data = {"client_id": self.client.client_id, "scope": " ".join(self.client.scopes)}
        if self.client.audience:
            data["audience"] = self.client.audience
        try:
            reply = oauth.post(self.device_authorization_endpoint, data=data, timeout=TIMEOUT, withhold_token=True)
            body = reply.json()
        except (requests.RequestException, ValueError) as exc:
            raise LoginError(
                f"the device authorization endpoint {self.device_authorization_endpoint} is unreachable "
                f"({type(exc).__name__})"
            ) from exc
        if reply.status_code != 200:
            error = body.get("error", reply.status_code) if isinstance(body, dict) else reply.status_code
            raise LoginError(f"the device authorization endpoint refused the login: {error}")
        return DeviceAuthorization.from_reply(body, self.poll_interval)

    def _poll(self, oauth: OAuth2Session, device: DeviceAuthorization) -> dict[str, Any]:
        """Ask for the token every interval until the person approved, refused, or the code or our time ran out."""
        give_up_at = self.clock() + min(self.login_timeout, device.expires_in)
        interval = device.interval
        while True:
            self.sleep(interval)
            try:
                return dict(
                    oauth.fetch_token(
                        self.client.token_endpoint,
                        grant_type=DEVICE_CODE_GRANT_TYPE,
                        device_code=device.device_code,
                        timeout=TIMEOUT,
                    )
                )
            except OAuthError as exc:
                if exc.error == "slow_down":
                    interval += SLOW_DOWN_SECONDS
                elif exc.error != "authorization_pending":
                    raise LoginError(f"the device login was refused: {exc.error}") from exc
            except (requests.RequestException, ValueError) as exc:
                raise LoginError(
                    f"the token endpoint {self.client.token_endpoint} is unreachable ({type(exc).__name__})"
                ) from exc
            if self.clock() >= give_up_at:
                raise LoginError(
                    f"the code {device.user_code} was not approved within "
                    f"{min(self.login_timeout, device.expires_in):g}s (admin.deviceFlowConfig.timeout)"
                )
