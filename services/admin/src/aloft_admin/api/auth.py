"""flyteidl.service.AuthMetadataService and IdentityService.

With ``auth.enabled`` they answer with the real configuration, as flyteadmin does: the metadata of admin's own
authorization server (Self) or of the external one (External, fetched from its discovery document), the public
client flytectl/pyflyte use for PKCE and the header tokens go in; UserInfo names the caller of the token. With auth
off, the metadata still describes a self-hosted server at admin's HTTP address (flytekit asks only after a 401,
which an auth-less admin never sends) and UserInfo answers for the anonymous user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aloft_auth.config import AuthConfig
from aloft_auth.enforce import current_identity
from flyteidl.service import auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc
from google.protobuf import struct_pb2

from aloft_admin.config import AdminSection

if TYPE_CHECKING:
    from aloft_admin.auth.setup import AdminAuth

ANONYMOUS = "anonymous"
_METADATA_FIELDS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "response_types_supported",
    "scopes_supported",
    "token_endpoint_auth_methods_supported",
    "jwks_uri",
    "code_challenge_methods_supported",
    "grant_types_supported",
    "device_authorization_endpoint",
)


class AuthMetadataServicer(auth_pb2_grpc.AuthMetadataServiceServicer):
    def __init__(
        self, admin: AdminSection, auth_config: AuthConfig, auth: AdminAuth | None, https: bool = False
    ) -> None:
        self._admin = admin
        self._scheme = "https" if https else "http"
        self._auth_config = auth_config
        self._auth = auth

    def _issuer(self) -> str:
        admin = self._admin
        host = "localhost" if admin.host in ("", "0.0.0.0", "::", "127.0.0.1") else admin.host
        return f"{self._scheme}://{host}:{admin.httpPort}"

    async def _metadata(self) -> dict[str, Any]:
        if self._auth is not None:
            return await self._auth.oauth2_metadata()
        issuer = self._issuer()
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "token_endpoint": f"{issuer}/oauth2/token",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "response_types_supported": ["code", "token", "code token"],
            "scopes_supported": ["all", "offline", "access_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["client_credentials", "refresh_token", "authorization_code"],
        }

    async def GetOAuth2Metadata(
        self, request: auth_pb2.OAuth2MetadataRequest, context: Any
    ) -> auth_pb2.OAuth2MetadataResponse:
        metadata = await self._metadata()
        known = {k: metadata[k] for k in _METADATA_FIELDS if k in metadata}
        return auth_pb2.OAuth2MetadataResponse(**known)

    async def GetPublicClientConfig(
        self, request: auth_pb2.PublicClientAuthConfigRequest, context: Any
    ) -> auth_pb2.PublicClientAuthConfigResponse:
        auth = self._auth_config
        client = auth.appAuth.thirdPartyConfig.flyteClient
        return auth_pb2.PublicClientAuthConfigResponse(
            client_id=client.clientId,
            redirect_uri=client.redirectUri,
            scopes=client.scopes,
            authorization_metadata_key=auth.grpcAuthorizationHeader,
            service_http_endpoint=auth.authorizedUris[0] if auth.enabled and auth.authorizedUris else "",
            audience=client.audience,
        )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    async def UserInfo(self, request: identity_pb2.UserInfoRequest, context: Any) -> identity_pb2.UserInfoResponse:
        identity = current_identity.get()
        if identity is None:
            return identity_pb2.UserInfoResponse(subject=ANONYMOUS, name="Anonymous", preferred_username=ANONYMOUS)
        claims = identity.claims
        extra = struct_pb2.Struct()
        extra.update(
            {"client_id": identity.client_id, "scopes": list(identity.scopes), "groups": list(identity.groups)}
        )
        return identity_pb2.UserInfoResponse(
            subject=identity.subject,
            name=str(claims.get("name", "")),
            preferred_username=str(claims.get("preferred_username", identity.subject)),
            email=str(claims.get("email", "")),
            additional_claims=extra,
        )
