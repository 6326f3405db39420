"""The gRPC connection to admin: flyteidl's own stubs, a deadline on every call, errors as one readable line."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc

from aloftctl.config import ClientConfig, ConfigError, default_token_cache
from aloftctl.login import CachedLogin, DeviceLogin, LoginError, PkceLogin, PublicClient, TokenCache


class CommandError(Exception):
    """A failure the user can act on: printed as one line, exit status 1."""


def describe_rpc_error(error: grpc.RpcError, target: str, timeout: float) -> str:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    if code == grpc.StatusCode.UNAVAILABLE:
        hint = "is the stack running (`aloft up`) and admin.endpoint right?"
        return f"cannot reach admin at {target}: {details} ({hint})"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"admin at {target} did not answer within {timeout:g}s (admin.timeout)"
    name = code.name if code is not None else "ERROR"
    return f"{name}: {details}"


class AdminClient:
    """Stubs for AdminService, DataProxyService and SignalService on one channel."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.target = config.target
        self._channel = self._open_channel()
        self._metadata: list[tuple[str, str]] = []
        self.admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        self.dataproxy = dataproxy_pb2_grpc.DataProxyServiceStub(self._channel)
        self.signals = signal_pb2_grpc.SignalServiceStub(self._channel)
        self._login: CachedLogin | None = None
        self._header = "authorization"
        if config.auth_type == "ClientSecret":
            self._metadata = self._client_credentials_metadata()
        elif config.auth_type in ("Pkce", "DeviceFlow"):
            self._login = self._pkce_login() if config.auth_type == "Pkce" else self._device_login()
            cached = self._login.cached_token()
            if cached is not None:  # else log in only once admin asks for a token (as flytectl and flytekit)
                self._metadata = [(self._header, f"Bearer {cached}")]
        elif config.auth_type == "ExternalCommand":
            raise ConfigError("admin.authType ExternalCommand is not supported by aloftctl; use Pkce or ClientSecret")

    def _open_channel(self) -> grpc.Channel:
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        if self.config.insecure:
            return grpc.insecure_channel(self.target, options=options)
        root = None
        if self.config.ca_cert_file_path:
            try:
                root = Path(self.config.ca_cert_file_path).expanduser().read_bytes()
            except OSError as exc:
                raise ConfigError(f"admin.caCertFilePath: cannot read {self.config.ca_cert_file_path}: {exc}") from exc
        return grpc.secure_channel(self.target, grpc.ssl_channel_credentials(root_certificates=root), options=options)

    def close(self) -> None:
        self._channel.close()

    def call(self, method: Callable[..., Any], request: Any, timeout: float | None = None) -> Any:
        """One unary call with the configured deadline; gRPC failures become a CommandError with one clear line.
        With a browser login (Pkce), a call admin answers UNAUTHENTICATED gets a renewed token and is tried again."""
        try:
            return self._call_once(method, request, timeout)
        except grpc.RpcError as exc:
            if self._login is None or exc.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise CommandError(describe_rpc_error(exc, self.target, timeout or self.config.timeout)) from exc
        try:
            self._metadata = [(self._header, f"Bearer {self._login.renewed_token()}")]
        except LoginError as exc:
            raise CommandError(f"login failed: {exc}") from exc
        try:
            return self._call_once(method, request, timeout)
        except grpc.RpcError as exc:
            raise CommandError(describe_rpc_error(exc, self.target, timeout or self.config.timeout)) from exc

    def _call_once(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        return method(request, timeout=timeout or self.config.timeout, metadata=self._metadata or None)

    def _auth_metadata(self) -> tuple[auth_pb2.OAuth2MetadataResponse, auth_pb2.PublicClientAuthConfigResponse]:
        """How admin says to authenticate (its AuthMetadataService needs no token)."""
        stub = auth_pb2_grpc.AuthMetadataServiceStub(self._channel)
        oauth = self.call(stub.GetOAuth2Metadata, auth_pb2.OAuth2MetadataRequest())
        public = self.call(stub.GetPublicClientConfig, auth_pb2.PublicClientAuthConfigRequest())
        self._header = (public.authorization_metadata_key or "authorization").lower()
        return oauth, public

    def _public_client(
        self, oauth: auth_pb2.OAuth2MetadataResponse, public: auth_pb2.PublicClientAuthConfigResponse
    ) -> PublicClient:
        # DeviceFlow: flytectl's admin.clientId (the IdP's client for devices), else admin's public client
        device_client = self.config.client_id if self.config.auth_type == "DeviceFlow" else ""
        return PublicClient(
            authorization_endpoint=oauth.authorization_endpoint,
            token_endpoint=oauth.token_endpoint,
            client_id=device_client or public.client_id,
            redirect_uri=public.redirect_uri,
            scopes=self.config.scopes or tuple(public.scopes),
            audience=public.audience,
        )

    def _token_cache(self) -> TokenCache:
        """One cache for the browser and the device logins: a token from either serves the other."""
        cache_file = Path(self.config.token_cache_file).expanduser() if self.config.token_cache_file else None
        return TokenCache(cache_file or default_token_cache())

    def _pkce_login(self) -> PkceLogin:
        oauth, public = self._auth_metadata()
        if not oauth.authorization_endpoint or not public.client_id or not public.redirect_uri:
            raise ConfigError(
                f"admin at {self.target} names no authorization endpoint or public client: is its auth enabled?"
            )
        return PkceLogin(
            self._public_client(oauth, public),
            self._token_cache(),
            cache_key=self.target,
            login_timeout=self.config.login_timeout,
            refresh_before=self.config.refresh_before,
            verify=self.config.ca_cert_file_path or True,
        )

    def _device_login(self) -> DeviceLogin:
        """flytectl's DeviceFlow: the client id is admin.clientId, else the public client admin names."""
        oauth, public = self._auth_metadata()
        if not oauth.device_authorization_endpoint:
            raise ConfigError(
                f"admin.authType DeviceFlow: the authorization server {oauth.issuer or oauth.token_endpoint} does "
                "not offer the device authorization grant (its metadata has no device_authorization_endpoint); "
                "use authType Pkce"
            )
        client = self._public_client(oauth, public)
        if not client.client_id or not oauth.token_endpoint:
            raise ConfigError("admin.authType DeviceFlow: set admin.clientId (admin names no public client)")
        return DeviceLogin(
            client,
            oauth.device_authorization_endpoint,
            self._token_cache(),
            cache_key=self.target,
            login_timeout=self.config.login_timeout,
            refresh_before=self.config.refresh_before,
            poll_interval=self.config.poll_interval,
            verify=self.config.ca_cert_file_path or True,
        )

    def _client_credentials_metadata(self) -> list[tuple[str, str]]:
        """OAuth2 client-credentials flow against the token endpoint admin advertises (as flytectl's ClientSecret)."""
        oauth, public = self._auth_metadata()
        secret = self.config.read_client_secret()
        basic = base64.b64encode(f"{self.config.client_id}:{secret}".encode()).decode()
        form = {"grant_type": "client_credentials"}
        if public.scopes:
            form["scope"] = " ".join(public.scopes)
        request = urllib.request.Request(
            oauth.token_endpoint,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as reply:
                token = json.loads(reply.read())["access_token"]
        except (urllib.error.URLError, KeyError, ValueError) as exc:
            raise CommandError(f"client-credentials login at {oauth.token_endpoint} failed: {exc}") from exc
        return [(self._header, f"Bearer {token}")]
