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

from aloftctl.config import ClientConfig, ConfigError


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
        if config.auth_type == "ClientSecret":
            self._metadata = self._client_credentials_metadata()
        elif config.auth_type in ("Pkce", "DeviceFlow", "ExternalCommand") and not config.insecure:
            raise ConfigError(
                f"admin.authType {config.auth_type} needs an interactive login aloftctl does not do; "
                "use authType ClientSecret (clientId + clientSecretLocation)"
            )

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
        """One unary call with the configured deadline; gRPC failures become a CommandError with one clear line."""
        try:
            return method(request, timeout=timeout or self.config.timeout, metadata=self._metadata or None)
        except grpc.RpcError as exc:
            raise CommandError(describe_rpc_error(exc, self.target, timeout or self.config.timeout)) from exc

    def _client_credentials_metadata(self) -> list[tuple[str, str]]:
        """OAuth2 client-credentials flow against the token endpoint admin advertises (as flytectl's ClientSecret)."""
        metadata_stub = auth_pb2_grpc.AuthMetadataServiceStub(self._channel)
        oauth = self.call(metadata_stub.GetOAuth2Metadata, auth_pb2.OAuth2MetadataRequest())
        public = self.call(metadata_stub.GetPublicClientConfig, auth_pb2.PublicClientAuthConfigRequest())
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
        header = public.authorization_metadata_key or "authorization"
        return [(header.lower(), f"Bearer {token}")]
