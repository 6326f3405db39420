"""flyteidl.service.AuthMetadataService and IdentityService, answering as flyteadmin does with auth disabled.

Auth is not enforced yet (a later issue). The metadata describes admin's self-hosted authorization server at its
own HTTP address, with flyteadmin's defaults (client ``flytectl``, ``flyte-authorization`` header), so clients
that ask get a well-formed answer; flytekit only asks after a 401, which an auth-less admin never sends.
UserInfo answers for the anonymous user.
"""

from __future__ import annotations

from typing import Any

from flyteidl.service import auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc

from aloft_admin.api.base import RpcMixin

ANONYMOUS = "anonymous"
DEFAULT_CLIENT_ID = "flytectl"
DEFAULT_REDIRECT_URI = "http://localhost:53593/callback"
AUTHORIZATION_METADATA_KEY = "flyte-authorization"


class AuthMetadataServicer(RpcMixin, auth_pb2_grpc.AuthMetadataServiceServicer):
    def _issuer(self) -> str:
        admin = self.deps.config.admin
        host = "localhost" if admin.host in ("", "0.0.0.0", "::", "127.0.0.1") else admin.host
        return f"http://{host}:{admin.httpPort}"

    async def GetOAuth2Metadata(
        self, request: auth_pb2.OAuth2MetadataRequest, context: Any
    ) -> auth_pb2.OAuth2MetadataResponse:
        issuer = self._issuer()
        return auth_pb2.OAuth2MetadataResponse(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/oauth2/authorize",
            token_endpoint=f"{issuer}/oauth2/token",
            jwks_uri=f"{issuer}/oauth2/jwks",
            response_types_supported=["code", "token", "code token"],
            scopes_supported=["all", "offline", "access_token"],
            token_endpoint_auth_methods_supported=["client_secret_basic"],
            code_challenge_methods_supported=["S256"],
            grant_types_supported=["client_credentials", "refresh_token", "authorization_code"],
        )

    async def GetPublicClientConfig(
        self, request: auth_pb2.PublicClientAuthConfigRequest, context: Any
    ) -> auth_pb2.PublicClientAuthConfigResponse:
        return auth_pb2.PublicClientAuthConfigResponse(
            client_id=DEFAULT_CLIENT_ID,
            redirect_uri=DEFAULT_REDIRECT_URI,
            scopes=["offline", "all"],
            authorization_metadata_key=AUTHORIZATION_METADATA_KEY,
        )


class IdentityServicer(RpcMixin, identity_pb2_grpc.IdentityServiceServicer):
    async def UserInfo(self, request: identity_pb2.UserInfoRequest, context: Any) -> identity_pb2.UserInfoResponse:
        return identity_pb2.UserInfoResponse(subject=ANONYMOUS, name="Anonymous", preferred_username=ANONYMOUS)
